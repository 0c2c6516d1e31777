// The CRDs generated from the one schema source (deploy/crds/, src/api/crds.ts): every one is a
// structural schema apiextensions.k8s.io/v1 accepts (checked by the rules restated in
// structural-schema.ts — the checker itself is tested on schemas that break each rule), with
// status subresource, printer columns that point at real fields, short names and categories;
// and every config in the repository validates against its kind's CRD schema (ajv), the way the
// API server would check it on `kubectl apply`.
import { describe, expect, test } from "bun:test";
import Ajv from "ajv";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { crdFiles, crdFor } from "../../src/api/crds";
import { formats } from "../../src/api/formats";
import { kinds } from "../../src/api/kinds";
import { structuralViolations } from "./structural-schema";

type Schema = Record<string, unknown>;
const repo = join(import.meta.dir, "..", "..");
const crds = kinds.map((k) => ({ kind: k.kind, crd: crdFor(k) as { metadata: { name: string }; spec: Schema } }));
const version = (c: (typeof crds)[number]) => (c.crd.spec.versions as Schema[])[0]!;
const openAPI = (c: (typeof crds)[number]) => (version(c).schema as { openAPIV3Schema: Schema }).openAPIV3Schema;

describe("every generated CRD", () => {
  test("there is one per kind, in both groups, as committed files", () => {
    expect(crdFiles().map((f) => f.path).sort()).toEqual(kinds.map((k) => `deploy/crds/${k.apiVersion.split("/")[0]}_${crds.find((c) => c.kind === k.kind)!.crd.metadata.name.split(".")[0]}.yaml`).sort());
    expect(new Set(crds.map((c) => c.crd.spec.group))).toEqual(new Set(["network.fos1.io", "security.fos1.io"]));
  });

  for (const c of crds) {
    test(`${c.kind}: a structural schema apiextensions/v1 accepts`, () => {
      expect(structuralViolations(openAPI(c))).toEqual([]);
    });

    test(`${c.kind}: names, one served storage version with the status subresource, printer columns on real fields`, () => {
      const names = c.crd.spec.names as { plural: string; kind: string; shortNames: string[]; categories: string[] };
      expect(c.crd.metadata.name).toBe(`${names.plural}.${c.crd.spec.group}`);
      expect(names.plural).toMatch(/^[a-z]+$/);
      expect(names.shortNames.length).toBeGreaterThan(0);
      expect(names.categories).toContain("fos1");
      expect(c.crd.spec.scope).toBe("Cluster");
      expect(version(c)).toMatchObject({ name: "v1alpha1", served: true, storage: true, subresources: { status: {} } });
      for (const col of version(c).additionalPrinterColumns as { name: string; type: string; jsonPath: string }[]) {
        expect(["integer", "number", "string", "boolean", "date"]).toContain(col.type);
        if (col.jsonPath.startsWith(".metadata.")) continue;
        const path = col.jsonPath.replace(/\[\?.*?\]/g, "[]").slice(1).split(".");
        let node: Schema | undefined = openAPI(c);
        for (const seg of path) {
          const field = seg.replace("[]", "");
          node = (node?.properties as Record<string, Schema> | undefined)?.[field];
          if (seg.endsWith("[]")) node = node?.items as Schema | undefined;
        }
        expect(node, `${c.kind} column ${col.name} (${col.jsonPath})`).toBeDefined();
      }
    });
  }

  test("short names are unique across the kinds", () => {
    const all = crds.flatMap((c) => (c.crd.spec.names as { shortNames: string[] }).shortNames);
    expect(new Set(all).size).toBe(all.length);
  });
});

describe("the structural-schema checker catches each rule it states", () => {
  const root = (spec: Schema): Schema => ({ type: "object", properties: { spec } });
  const cases: [string, Schema, string][] = [
    ["a node without a type", root({ type: "object", properties: { a: { description: "x" } } }), "<root>.spec.a: type must not be empty"],
    ["$ref", root({ $ref: "#/definitions/x" }), "<root>.spec: $ref is not supported"],
    ["additionalProperties: false beside properties", root({ type: "object", additionalProperties: false, properties: { a: { type: "string" } } }), "<root>.spec: additionalProperties and properties are mutually exclusive"],
    ["a type inside anyOf", root({ type: "object", anyOf: [{ type: "string" }, { type: "integer" }] }), "<root>.spec.anyOf[0]: type must not be set inside allOf/anyOf/oneOf/not"],
    ["a description inside oneOf", root({ type: "string", oneOf: [{ description: "a", pattern: "x" }] }), "<root>.spec.oneOf[0]: description must not be set inside allOf/anyOf/oneOf/not"],
    ["a field named only inside a junctor", root({ type: "object", properties: { a: { type: "string" } }, anyOf: [{ properties: { b: {} } }] }), "<root>.spec.anyOf[0].b: must be specified outside allOf/anyOf/oneOf/not too"],
    ["int-or-string with a type", root({ type: "object", properties: { p: { type: "string", "x-kubernetes-int-or-string": true } } }), "<root>.spec.p: type must be empty when x-kubernetes-int-or-string is true"],
    ["const", root({ type: "string", const: "a" }), "<root>.spec: const is not supported (use a one-value enum)"],
    ["patternProperties", root({ type: "object", patternProperties: { "^(.*)$": { type: "string" } } }), "<root>.spec: patternProperties is not supported"],
    ["uniqueItems", root({ type: "array", uniqueItems: true, items: { type: "string" } }), "<root>.spec: uniqueItems cannot be set to true"],
    ["a format the API server does not know", root({ type: "string", format: "ip" }), "<root>.spec: format ip is not one the API server knows"],
    ["a map list keyed by an optional field", root({ type: "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"], items: { type: "object", properties: { k: { type: "string" } } } }), "<root>.spec: map key k must be required or have a default"],
    ["restrictions on metadata other than the name", { type: "object", properties: { metadata: { type: "object", properties: { labels: { type: "object" } } } } }, "metadata.labels: only name and generateName may be restricted"],
  ];
  for (const [what, schema, expected] of cases)
    test(what, () => {
      expect(structuralViolations(schema)).toContain(expected);
    });
});

// Every config in the repository, as the API server would check it against the CRDs.
const ajv = new Ajv({ strict: false, allErrors: true });
for (const [name, check] of Object.entries(formats)) ajv.addFormat(name, check);
ajv.addFormat("int64", true).addFormat("date-time", true);
const validators = new Map(crds.map((c) => [c.kind, ajv.compile(openAPI(c))]));

function configDocuments(text: string): Schema[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Schema | null)
    .filter((d): d is Schema => !!d && typeof d.apiVersion === "string" && /\.fos1\.io\//.test(d.apiVersion));
}

const examples: [string, Schema[]][] = [
  ["src/api/default-config.yaml", configDocuments(readFileSync(join(repo, "src/api/default-config.yaml"), "utf8"))],
  ...[...new Bun.Glob("test/unit/golden/**/*.yaml").scanSync(repo)].filter((f) => !f.endsWith(".out.yaml")).sort().map((f): [string, Schema[]] => [f, configDocuments(readFileSync(join(repo, f), "utf8"))]),
  [
    "README.md (configuration examples)",
    [...readFileSync(join(repo, "README.md"), "utf8").matchAll(/```yaml\n([\s\S]*?)```/g)].flatMap((m) => configDocuments(m[1]!)),
  ],
];

describe("every config in the repository validates against its CRD's openAPIV3Schema", () => {
  test("the examples cover every kind", () => {
    const seen = new Set(examples.flatMap(([, docs]) => docs.map((d) => d.kind)));
    expect([...kinds.map((k) => k.kind)].filter((k) => !seen.has(k))).toEqual([]);
  });

  for (const [file, docs] of examples)
    test(`${file} (${docs.length} objects)`, () => {
      expect(docs.length).toBeGreaterThan(0);
      const failures = docs.flatMap((d) => {
        const validate = validators.get(d.kind as string)!;
        const ref = `${d.kind}/${(d.metadata as Schema).name}`;
        return validate(d) ? [] : [`${ref}: ${ajv.errorsText(validate.errors)}`];
      });
      expect(failures).toEqual([]);
    });

  test("an object the API server would refuse is refused here too", () => {
    const validate = validators.get("FirewallRule")!;
    expect(validate({ apiVersion: "security.fos1.io/v1alpha1", kind: "FirewallRule", metadata: { name: "r" }, spec: { fromZone: "lan", toZone: "wan", action: "permit" } })).toBe(false);
    expect(validate({ apiVersion: "security.fos1.io/v1alpha1", kind: "FirewallRule", metadata: { name: "r" }, spec: { fromZone: "lan", toZone: "wan", action: "allow", ports: ["80-x"] } })).toBe(false);
    expect(validate({ apiVersion: "security.fos1.io/v1alpha1", kind: "FirewallRule", metadata: { name: "r" }, spec: { fromZone: "lan", toZone: "wan", action: "allow", ports: [80, "8000-8100"] } })).toBe(true);
  });
});
