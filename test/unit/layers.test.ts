// The top-level folders of src/ are layers: a folder imports only folders before it in LAYERS,
// so there is no cycle between them and each can be read knowing only what comes earlier.
// Files directly in src/ (main.ts) are the top.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "../../src");

export const LAYERS = [
  "base", // logging, errors, the tool runner, atomic writes, durations, libc, the state dir: nothing of ours
  "grpc", // loading embedded .proto files
  "api", // the one schema source: kinds, loading, validation, CRDs
  "policy", // the policy model shared by the firewall, the Cilium translation and flows
  "cilium", // fos1 objects → Cilium objects (pure)
  "bpf", // libbpf through bun:ffi
  "engine", // observe → plan → apply, one reconciler per resource
  "journal", // pending / last-known-good / history, the audit trail
  "apply", // the one guarded apply path: lock, validate, guard, journal, converge, confirm
  "agent", // the boot service: watches, converges through apply, health and metrics
  "cluster", // the controller and the node's cluster source
  "ids", // Suricata alerts → blocks
  "flows", // Hubble flows
  "talos", // the Talos API client
  "cli", // the commands
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

/** Every module specifier a file names: static imports and exports, dynamic import(). */
export function specifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|[\s;])(?:import|export)\s[^;]*?\sfrom\s*["']([^"']+)["']|(?:^|[\s;])import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/gm))
    out.push((m[1] ?? m[2] ?? m[3])!);
  return out;
}

const layerOf = (file: string): string => {
  const rel = relative(SRC, file).split("/");
  return rel.length === 1 ? "(top)" : rel[0]!;
};
const rank = (layer: string) => (layer === "(top)" ? LAYERS.length : LAYERS.indexOf(layer));

describe("src/ is layered", () => {
  const folders = readdirSync(SRC).filter((n) => statSync(join(SRC, n)).isDirectory());

  test("every top-level folder is a layer, in order, with a README naming its files' jobs", () => {
    expect(folders.filter((f) => !LAYERS.includes(f))).toEqual([]);
    expect(LAYERS.filter((l) => !folders.includes(l))).toEqual([]);
    expect(LAYERS.filter((l) => !existsSync(join(SRC, l, "README.md")))).toEqual([]);
  });

  test("no folder imports one that comes after it (so no cycle); base imports nothing of ours", () => {
    const against: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const from = layerOf(file);
      for (const spec of specifiers(readFileSync(file, "utf8"))) {
        if (!spec.startsWith(".")) continue;
        const target = resolve(dirname(file), spec);
        if (!target.startsWith(SRC + "/")) continue; // package.json
        const to = layerOf(target);
        if (to !== from && rank(to) >= rank(from)) against.push(`${relative(SRC, file)} imports ${relative(SRC, target)} (${from} may not import ${to})`);
      }
    }
    expect(against).toEqual([]);
  });

  test("the import reader sees every form of import", () => {
    const text = [
      'import { a } from "../x/a";',
      'import type { B } from "../y/b";',
      "import {\n  c,\n  d,\n} from '../z/c';",
      'export { e } from "../w/e";',
      'import text from "../v/f.yaml" with { type: "text" };',
      'const g = await import("../u/g");',
      'import "../t/side-effect";',
    ].join("\n");
    expect(specifiers(text)).toEqual(["../x/a", "../y/b", "../z/c", "../w/e", "../v/f.yaml", "../u/g", "../t/side-effect"]);
  });
});
