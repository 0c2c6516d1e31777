// What is generated from the one schema source is committed (the executable bundles the
// validators; the cluster installs the CRDs); it must be what the schemas give today.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CRD_DIR, crdFiles } from "../../src/api/crds";
import { validatorsSource } from "../../src/api/validators-source";

const repo = join(import.meta.dir, "..", "..");

test("src/api/generated/validators.ts is current with src/api/schema (else: make generate)", () => {
  const committed = readFileSync(join(repo, "src", "api", "generated", "validators.ts"), "utf8");
  expect(committed === validatorsSource()).toBe(true);
});

test("deploy/crds/ holds exactly the CRDs src/api/schema gives (else: make crds)", () => {
  const files = crdFiles();
  expect(readdirSync(join(repo, CRD_DIR)).filter((f) => f.endsWith(".yaml")).sort()).toEqual(files.map((f) => f.path.slice(CRD_DIR.length + 1)).sort());
  for (const f of files) expect(readFileSync(join(repo, f.path), "utf8") === f.text, f.path).toBe(true);
});
