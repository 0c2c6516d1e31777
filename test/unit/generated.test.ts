// What is generated from the one schema source is committed (the executable bundles it); it
// must be what the schemas give today.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { validatorsSource } from "../../src/api/validators-source";

test("src/api/generated/validators.ts is current with src/api/schema (else: make generate)", () => {
  const committed = readFileSync(join(import.meta.dir, "..", "..", "src", "api", "generated", "validators.ts"), "utf8");
  expect(committed === validatorsSource()).toBe(true);
});
