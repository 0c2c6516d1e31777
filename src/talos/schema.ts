// The Talos machine API as gRPC definitions, built from fos1's own .proto files (proto/), which
// are embedded in the executable.
import type { ServiceClientConstructor, ServiceDefinition } from "@grpc/grpc-js";
import { embeddedProtoRoot, grpcPackages } from "../grpc/embedded-protos";
import commonProto from "./proto/common/common.proto" with { type: "text" };
import machineProto from "./proto/machine/machine.proto" with { type: "text" };

export const talosRoot = embeddedProtoRoot(
  "Talos API",
  { "common/common.proto": commonProto, "machine/machine.proto": machineProto },
  "machine/machine.proto",
);

// Field names as in the .proto, enums as their names, absent scalars and lists as their defaults
// (Talos leaves empty fields off the wire), 64-bit numbers as strings.
const packages = grpcPackages(talosRoot, { keepCase: true, longs: String, enums: String, defaults: true, arrays: true, oneofs: true });

/** The client class of `machine.MachineService` (gRPC paths /machine.MachineService/…). */
export const MachineServiceClient = (packages.machine as Record<string, ServiceClientConstructor>).MachineService!;

/** The service definition, for a server that implements it (the tests' fake Talos API). */
export const machineService: ServiceDefinition = MachineServiceClient.service;
