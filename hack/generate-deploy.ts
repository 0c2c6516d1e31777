// `make generate` (with hack/generate.ts): writes deploy/manifests/ from its sources
// (src/cluster/deploy-files.ts says which).
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { deployFiles } from "../src/cluster/deploy-files";

const repo = join(import.meta.dir, "..");
for (const [path, text] of deployFiles(repo)) {
  mkdirSync(dirname(join(repo, path)), { recursive: true });
  writeFileSync(join(repo, path), text);
  console.log(`wrote ${path}`);
}
