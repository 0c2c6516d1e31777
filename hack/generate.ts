// `make generate` (and `make crds`): writes what is generated from the one schema source into
// the tree — the standalone validators and the CRDs (deploy/crds/, stale files removed).
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CRD_DIR, crdFiles } from "../src/api/crds";
import { validatorsSource } from "../src/api/validators-source";

const repo = join(import.meta.dir, "..");
const validators = join(repo, "src", "api", "generated", "validators.ts");
writeFileSync(validators, validatorsSource());
console.log(`wrote ${validators}`);

const files = crdFiles();
mkdirSync(join(repo, CRD_DIR), { recursive: true });
const wanted = new Set(files.map((f) => f.path));
for (const name of readdirSync(join(repo, CRD_DIR)))
  if (name.endsWith(".yaml") && !wanted.has(`${CRD_DIR}/${name}`)) rmSync(join(repo, CRD_DIR, name));
for (const f of files) writeFileSync(join(repo, f.path), f.text);
console.log(`wrote ${files.length} CRDs to ${join(repo, CRD_DIR)}`);
