// Config files built to exhaust the loader: each ends in a problem naming file, document and
// line (exit 2 from the CLI, nothing changed), never in a throw, a hang or memory without bound.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfigText, MAX_CONFIG_BYTES } from "../../src/api/load";
import { formatProblem } from "../../src/api/problems";
import { fos1, fos1Argv } from "../helpers/fos1";
import { aliasBomb, deepBlock, deepFlow } from "../helpers/hostile-yaml";

const problems = (text: string) => loadConfigText(text, "cfg.yaml").problems.map(formatProblem);
const tmp = mkdtempSync(join(tmpdir(), "fos1-hostile-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const iface = (name: string, extra = "") =>
  `---\napiVersion: network.fos1.io/v1alpha1\nkind: NetworkInterface\nmetadata:\n  name: ${name}\nspec:\n  device: ${name}\n${extra}`;

describe("the loader's bounds", () => {
  test("an alias bomb (9^10 nodes in 11 lines) is one problem at its first alias", () => {
    expect(problems(aliasBomb())).toEqual(["cfg.yaml:2:8: document 1: aliases (*name) expand to more than 100 nodes in this document; write the values out, or use fewer aliases"]);
  });

  test("a config that uses anchors and aliases the ordinary way still loads", () => {
    const text = iface("lan0", "  mtu: &mtu 9000\n  cilium:\n    labels: {zone: &zone lan, site: *zone}\n") + iface("lan1", "  addresses: [198.51.100.1/24]\n");
    const r = loadConfigText(text, "cfg.yaml");
    expect(r.problems).toEqual([]);
    expect(r.objects.map((o) => o.ref)).toEqual(["NetworkInterface/lan0", "NetworkInterface/lan1"]);
    // Anchors are per document: one from an earlier document is a problem at the alias, not a throw.
    expect(problems(text + iface("lan2", "  mtu: *mtu\n"))).toEqual(["cfg.yaml:26:8: document 3: alias *mtu names no anchor (&mtu) set before it in this document; anchors do not reach across ---"]);
  });

  test("nesting too deep is a problem at the place it gets too deep, in block and in flow style", () => {
    expect(problems(deepBlock(200))).toEqual(["cfg.yaml:65:65: document 1: mappings and sequences nest more than 64 deep here; no config kind nests that deep"]);
    expect(problems(deepFlow(1000))).toEqual(["cfg.yaml:1:70: document 1: mappings and sequences nest more than 64 deep here; no config kind nests that deep"]);
    // So deep that the parser's own stack overflows before any check can run.
    expect(problems(deepFlow(100_000))).toEqual(["cfg.yaml: document 1: mappings and sequences nest too deep to be read (more than 64 deep is refused); no config kind nests that deep"]);
    // Just inside the bound it is an ordinary document (here: not a config object).
    expect(problems(deepBlock(60)).join("\n")).not.toContain("nest more than");
  });

  test("a text over the size bound is refused before it is parsed", () => {
    const big = iface("lan0") + "# " + "x".repeat(MAX_CONFIG_BYTES) + "\n";
    expect(problems(big)).toEqual([`cfg.yaml: document 1: the file is ${Buffer.byteLength(big)} bytes, more than a config may have (${MAX_CONFIG_BYTES} bytes); split it or remove what it repeats`]);
  });
});

describe("fos1 validate on a hostile file exits 2 and says why", () => {
  test("an alias bomb", async () => {
    const file = join(tmp, "bomb.yaml");
    writeFileSync(file, aliasBomb());
    const r = await fos1(["validate", "-f", file]);
    expect(r.exitCode).toBe(2);
    expect(r.stdout + r.stderr).toContain(`${file}:2:8: document 1: aliases (*name) expand to more than 100 nodes`);
  });

  test("a 40 GiB file is refused from its size, without reading it", async () => {
    const file = join(tmp, "huge.yaml");
    writeFileSync(file, "");
    truncateSync(file, 40 * 2 ** 30); // sparse: reading it whole would take minutes and all the memory
    const r = await fos1(["validate", "-f", file]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${file}: document 1: the file is 42949672960 bytes, more than a config may have (${MAX_CONFIG_BYTES} bytes)`);
  });

  test("an endless standard input is cut off at the bound", async () => {
    const proc = Bun.spawn(["sh", "-c", `yes '# padding' | "$@" validate -f -`, "sh", ...fos1Argv()], { stdout: "pipe", stderr: "pipe" });
    const [stderr, exitCode] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    expect(exitCode).toBe(2);
    expect(stderr).toMatch(/<stdin>: document 1: the file is \d+ bytes, more than a config may have/);
  });
});
