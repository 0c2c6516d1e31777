// gRPC definitions from .proto files embedded in the executable. Callers import their .proto
// files as text (`with { type: "text" }`), so `bun build --compile` carries them and fos1 never
// reads them from disk, wherever it runs from; google/protobuf/* come from protobufjs itself.
import * as protobuf from "protobufjs";
import { fromJSON, type Options } from "@grpc/proto-loader";
import { loadPackageDefinition, type GrpcObject } from "@grpc/grpc-js";

/**
 * Parses `entry` and every file it imports, by import path, from `files`. `api` names the API
 * in the error for an import that was not embedded (a build mistake, not a user's).
 */
export function embeddedProtoRoot(api: string, files: Record<string, string>, entry: string): protobuf.Root {
  const root = new protobuf.Root();
  const added = new Set<string>();
  const add = (name: string) => {
    if (added.has(name)) return;
    added.add(name);
    const wellKnown = protobuf.common.get(name);
    if (wellKnown) return void root.addJSON(wellKnown.nested!);
    const text = files[name];
    if (text === undefined) throw new Error(`${api}: ${name} is imported but not embedded`);
    const parsed = protobuf.parse(text, root, { keepCase: true });
    for (const dep of [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])]) add(dep);
  };
  add(entry);
  root.resolveAll();
  return root;
}

/** The packages of `root` as grpc-js client constructors, decoding messages with `options`. */
export function grpcPackages(root: protobuf.Root, options: Options): GrpcObject {
  return loadPackageDefinition(fromJSON(root.toJSON(), options));
}
