// Hubble's observer API as gRPC definitions, built from fos1's .proto files (proto/README.md).
// The files are imported as text so `bun build --compile` embeds them in the executable: fos1
// never reads them from disk, wherever it runs from.
import type { ChannelCredentials, ChannelOptions, Client, ClientReadableStream, ServiceClientConstructor, ServiceDefinition } from "@grpc/grpc-js";
import type { GetFlowsRequest, GetFlowsResponse } from "./types";
import { embeddedProtoRoot, grpcPackages } from "../grpc/embedded-protos";
import flowProto from "./proto/flow/flow.proto" with { type: "text" };
import relayProto from "./proto/relay/relay.proto" with { type: "text" };
import observerProto from "./proto/observer/observer.proto" with { type: "text" };

const files: Record<string, string> = {
  "flow/flow.proto": flowProto,
  "relay/relay.proto": relayProto,
  "observer/observer.proto": observerProto,
};

/** How decoded messages look: field names as in the .proto, 64-bit numbers and enums as strings. */
export const DECODE_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: false, oneofs: true } as const;

export const hubbleRoot = embeddedProtoRoot("Hubble API", files, "observer/observer.proto");

const grpcObjects = grpcPackages(hubbleRoot, DECODE_OPTIONS);

const observerConstructor = (grpcObjects.observer as Record<string, ServiceClientConstructor>).Observer!;

export interface ObserverClient extends Client {
  GetFlows(request: GetFlowsRequest): ClientReadableStream<GetFlowsResponse>;
}

/** The client class of `observer.Observer` (gRPC path /observer.Observer/…). */
export const ObserverClient = observerConstructor as unknown as new (address: string, credentials: ChannelCredentials, options?: ChannelOptions) => ObserverClient;

/** The service definition, for a server that implements it (the tests' fake Hubble). */
export const observerService: ServiceDefinition = observerConstructor.service;
