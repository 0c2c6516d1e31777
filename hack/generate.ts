// `make generate`: writes what is generated from the one schema source into the tree.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { validatorsSource } from "../src/api/validators-source";

const out = join(import.meta.dir, "..", "src", "api", "generated", "validators.ts");
writeFileSync(out, validatorsSource());
console.log(`wrote ${out}`);
