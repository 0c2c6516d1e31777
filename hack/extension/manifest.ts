// Prints the extension's manifest.yaml: extension/manifest.yaml with metadata.version set to
// package.json's version, so the image never names a version it does not carry.
//   bun hack/extension/manifest.ts > manifest.yaml
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse, stringify } from "yaml";
import pkg from "../../package.json" with { type: "json" };

export function renderManifest(source: string, version: string): string {
  const manifest = parse(source) as { metadata?: Record<string, unknown> } | null;
  const { name, ...rest } = manifest?.metadata ?? {};
  if ("version" in rest) throw new Error("extension/manifest.yaml must not set metadata.version: it comes from package.json");
  // The comments are about the source file, not the image: they are left behind.
  return stringify({ ...manifest, metadata: { name, version, ...rest } }, { lineWidth: 0 });
}

if (import.meta.main) {
  process.stdout.write(renderManifest(readFileSync(resolve(import.meta.dir, "../../extension/manifest.yaml"), "utf8"), pkg.version));
}
