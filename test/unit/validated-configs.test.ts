import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfigText } from "../../src/api/load";
import { ValidatedConfigs } from "../../src/journal/validated-configs";

const text = `apiVersion: network.fos1.io/v1alpha1
kind: NetworkInterface
metadata: {name: lan}
spec: {device: eth1, addresses: [192.168.1.1/24]}
---
apiVersion: network.fos1.io/v1alpha1
kind: VRF
metadata: {name: blue}
spec: {table: 100}
`;
const loaded = loadConfigText(text, "a.yaml");
const dir = () => mkdtempSync(join(tmpdir(), "fos1-validated-"));

describe("configs validated before", () => {
  test("the same bytes, for the same build, give back the same objects under the file name given now", () => {
    const d = dir();
    new ValidatedConfigs(d, "build-1").remember(text, loaded.objects);
    const again = new ValidatedConfigs(d, "build-1").get(text, "b.yaml");
    expect(again?.map((o) => [o.ref, o.source.document, o.source.file])).toEqual([
      ["NetworkInterface/lan", 1, "b.yaml"],
      ["VRF/blue", 2, "b.yaml"],
    ]);
    expect(again?.map((o) => o.value)).toEqual(loaded.objects.map((o) => o.value));
  });

  test("other bytes (one space more) are read from the YAML", () => {
    const d = dir();
    new ValidatedConfigs(d, "build-1").remember(text, loaded.objects);
    expect(new ValidatedConfigs(d, "build-1").get(text + " ", "a.yaml")).toBeNull();
  });

  test("a build from other source does not trust what an earlier build validated", () => {
    const d = dir();
    new ValidatedConfigs(d, "build-1").remember(text, loaded.objects);
    expect(new ValidatedConfigs(d, "build-2").get(text, "a.yaml")).toBeNull();
  });

  test("a run from source (no source digest) neither keeps nor uses them", () => {
    const d = dir();
    new ValidatedConfigs(d, undefined).remember(text, loaded.objects);
    expect(readdirSync(d)).toEqual([]);
    new ValidatedConfigs(d, "build-1").remember(text, loaded.objects);
    expect(new ValidatedConfigs(d, undefined).get(text, "a.yaml")).toBeNull();
  });

  test("a torn file is ignored, not trusted", () => {
    const d = dir();
    new ValidatedConfigs(d, "build-1").remember(text, loaded.objects);
    const file = readdirSync(join(d, "configs"))[0]!;
    writeFileSync(join(d, "configs", file), '{"source":"build-1","objects":[{"doc');
    expect(new ValidatedConfigs(d, "build-1").get(text, "a.yaml")).toBeNull();
  });
});
