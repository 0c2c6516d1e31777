// The two YAML readers of src/api/load.ts: a valid config is read by the fast one (js-yaml),
// and must come out exactly as the positioned one (the yaml package) reads it; a config with
// a problem, or one the fast reader must not take (anchors, aliases, deep nesting), is read
// by the positioned one, so its problems keep their lines.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import { loadConfigText } from "../../src/api/load";
import { formatProblem } from "../../src/api/problems";

const repo = resolve(import.meta.dir, "../..");

/** Every config the repository ships or tests with: the default config and the golden tests' inputs. */
function repositoryConfigs(): string[] {
  const out = [join(repo, "src/api/default-config.yaml")];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".yaml") && !e.name.endsWith(".out.yaml")) out.push(p);
    }
  };
  walk(join(repo, "test/unit/golden"));
  return out;
}

/** What the positioned reader makes of each document: its number and value. */
function positioned(text: string): { document: number; value: unknown }[] {
  const docs = parseAllDocuments(text);
  return (Array.isArray(docs) ? docs : []).map((d, i) => ({ document: i + 1, value: d.toJS() as unknown }));
}

const doc = (kind: string, name: string, spec: string) => `---\napiVersion: network.fos1.io/v1alpha1\nkind: ${kind}\nmetadata:\n  name: ${name}\nspec:\n${spec.replace(/^/gm, "  ")}\n`;

describe("a valid config reads the same through the fast reader as through the positioned one", () => {
  const files = repositoryConfigs();

  test(`the repository's configs (${files.length} files): every object, its document number and its value`, () => {
    let objects = 0;
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      const r = loadConfigText(text, file);
      const valid = r.problems.length === 0;
      // The golden tests include configs with problems on purpose; those took the positioned reader.
      if (!valid) continue;
      const want = new Map(positioned(text).map((d) => [d.document, d.value]));
      for (const o of r.objects) {
        expect({ file, ref: o.ref, fast: o.source.doc === undefined, value: o.value }).toEqual({ file, ref: o.ref, fast: true, value: want.get(o.source.document) as never });
        objects++;
      }
    }
    expect(objects).toBeGreaterThan(50);
  });

  test("scalars whose reading differs between YAML versions, block and flow styles, multi-line strings, comments, empty documents", () => {
    const text = [
      "# a comment before the first document\n",
      doc("NetworkInterface", "yes", "type: physical\ndevice: eth1\ndescription: yes # YAML 1.1 would make it true\nmtu: 0x5dc\naddresses: ['192.0.2.1/24', \"2001:db8::1/64\"]"),
      doc("NetworkInterface", "on", "{type: physical, device: eth2, description: on, mtu: 1_500e0}").replace("1_500e0", "1500"),
      doc("NetworkInterface", "folded", "type: physical\ndevice: eth3\ndescription: >-\n  folded\n  over lines\nup: True"),
      doc("NetworkInterface", "literal", "type: physical\ndevice: eth4\ndescription: |\n  kept\n  as is\nmtu: +9000"),
      "---\n~\n",
      "--- # empty\n",
    ].join("");
    const r = loadConfigText(text, "tricky.yaml");
    expect(r.problems.map(formatProblem)).toEqual([]);
    const want = new Map(positioned(text).map((d) => [d.document, d.value]));
    expect(r.objects.map((o) => ({ fast: o.source.doc === undefined, value: o.value }))).toEqual(r.objects.map((o) => ({ fast: true, value: want.get(o.source.document) as never })));
    expect(r.objects.map((o) => (o.value as { spec: { description?: string } }).spec.description)).toEqual(["yes", "on", "folded over lines", "kept\nas is\n"]);
  });
});

describe("what the fast reader leaves to the positioned one", () => {
  const iface = (name: string, extra = "") => doc("NetworkInterface", name, `type: physical\ndevice: eth1${extra}`);

  test("a duplicate key: the positioned reader's line", () => {
    const r = loadConfigText(iface("a", "\ndevice: eth2"), "dup.yaml");
    expect(r.problems.map(formatProblem)).toEqual([expect.stringMatching(/^dup\.yaml:9:3: document 1: YAML: Map keys must be unique/)]);
    expect(r.objects).toEqual([]);
  });

  test("a schema error: its field's line and column", () => {
    expect(loadConfigText(iface("a", "\nmtu: 10"), "mtu.yaml").problems.map(formatProblem)).toEqual([expect.stringMatching(/^mtu\.yaml:9:8: document 1 \(NetworkInterface\/a\) spec\.mtu: /)]);
  });

  test("a cross-object problem: the line of the second definition", () => {
    const ps = loadConfigText(iface("a") + iface("a"), "twice.yaml").problems.map(formatProblem);
    expect(ps).toEqual(["twice.yaml:13:9: document 2 (NetworkInterface/a) metadata.name: duplicate NetworkInterface/a: already defined in document 1"]);
  });

  test("anchors and aliases: read by the positioned reader, which bounds their expansion", () => {
    const r = loadConfigText(iface("a", "\ndescription: &d uplink\ncilium: {labels: {role: *d}}"), "anchors.yaml");
    expect(r.problems).toEqual([]);
    expect(r.objects.map((o) => [o.source.doc !== undefined, o.value.spec])).toEqual([[true, { type: "physical", device: "eth1", description: "uplink", cilium: { labels: { role: "uplink" } } }]]);
    const laughs = ["a: &a [x, x, x, x, x, x, x, x, x, x]", ...Array.from({ length: 9 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(", ")}]`)].join("\n");
    expect(loadConfigText(laughs, "laughs.yaml").problems.map(formatProblem)).toEqual([expect.stringMatching(/^laughs\.yaml:\d+:\d+: document 1: aliases \(\*name\) expand to more than 100 nodes/)]);
  });

  test("nesting deeper than any config kind: refused with its line", () => {
    const deep = "a:\n" + Array.from({ length: 70 }, (_, i) => `${"  ".repeat(i + 1)}b${i}:`).join("\n") + " 1\n";
    expect(loadConfigText(deep, "deep.yaml").problems.map(formatProblem)).toEqual([expect.stringMatching(/^deep\.yaml:\d+:\d+: document 1: mappings and sequences nest more than 64 deep here/)]);
  });
});
