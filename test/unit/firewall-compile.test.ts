// The firewall compiler against golden files, the way OpenWrt's fw4 tests its ruleset
// template: each test/unit/golden/firewall/NAME.yaml is a config, NAME.json the exact nftables
// JSON transaction fos1 must send for it (one command per line, so a diff reads like a ruleset
// diff). `UPDATE_GOLDEN=1 bun test test/unit/firewall-compile.test.ts` rewrites the goldens
// from the compiler; review every changed line before committing it.
//
// Each golden is also handed to the real nft in a throwaway network namespace (`unshare
// --net`, without /etc/protocols): checked (`nft -j -c -f`), loaded twice (the second load
// replaces the table, as every later apply does) and read back, and what observe.ts reads back
// must be exactly the digest and shape the compiler promised — otherwise every apply would
// rewrite the table.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { loadConfigText } from "../../src/api/load";
import { formatProblem } from "../../src/api/problems";
import { desiredState } from "../../src/engine/desired";
import { compileFirewall, compileLockdown, FIREWALL_TABLE, type CompiledFirewall } from "../../src/engine/firewall/compile";
import { parseFirewallListing, type ObservedFirewall } from "../../src/engine/firewall/observe";
import { firewall } from "../../src/engine/firewall/reconciler";

const GOLDEN = resolve(import.meta.dir, "golden/firewall");
const UPDATE = process.env.UPDATE_GOLDEN === "1";
const isRoot = process.getuid?.() === 0;
const tmp = mkdtempSync(join(tmpdir(), "fos1-fw-golden-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function compileFile(path: string): CompiledFirewall {
  const r = loadConfigText(readFileSync(path, "utf8"), basename(path));
  if (r.problems.length) throw new Error(`golden config ${path} is not valid:\n${r.problems.map(formatProblem).join("\n")}`);
  return compileFirewall(desiredState(r.objects).firewall);
}

/** The transaction as `nft -j -f` reads it, one command per line. */
function render(fw: CompiledFirewall): string {
  return `{"nftables": [\n${fw.commands.map((c) => "  " + JSON.stringify(c)).join(",\n")}\n]}\n`;
}

interface NftRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a shell script in a new, empty network namespace that vanishes when it exits, with
 * /etc/protocols hidden (a private mount namespace): the extension's and the lab's minimal root
 * filesystems have none, so a ruleset that needs it to name a protocol would not load there.
 */
function inThrowawayNs(script: string, ...args: string[]): NftRun {
  const hide = "if [ -e /etc/protocols ]; then mount --bind /dev/null /etc/protocols; fi; ";
  const r = Bun.spawnSync(["unshare", "--net", "--mount", "sh", "-ec", hide + script, "sh", ...args], { stdout: "pipe", stderr: "pipe" });
  return { exitCode: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

const cases = readdirSync(GOLDEN)
  .filter((f) => f.endsWith(".yaml"))
  .map((f) => f.slice(0, -".yaml".length))
  .sort();

test("the golden configs are all there", () => {
  expect(cases).toEqual(["cluster", "lan-services", "missing-nic", "nat-dnat", "nat-masquerade", "nat-nptv6", "nat-snat", "no-zones-no-nat", "port-segments", "rules", "vlan-policy", "zones"]);
});

for (const name of cases) {
  const yamlPath = join(GOLDEN, `${name}.yaml`);
  const jsonPath = join(GOLDEN, `${name}.json`);

  describe(name, () => {
    test("compiles to exactly the golden transaction", () => {
      const text = render(compileFile(yamlPath));
      if (UPDATE) writeFileSync(jsonPath, text);
      expect(existsSync(jsonPath)).toBe(true);
      expect(text).toBe(readFileSync(jsonPath, "utf8"));
    });

    test.skipIf(!isRoot)("nft accepts the golden (check mode), loads it twice, and it reads back as compiled", () => {
      const fw = compileFile(yamlPath);
      const r = inThrowawayNs('nft -j -c -f "$1"; nft -j -f "$1"; nft -j -f "$1"; nft -j list ruleset', jsonPath);
      expect({ exitCode: r.exitCode, stderr: r.stderr }).toEqual({ exitCode: 0, stderr: "" });
      const tables = (JSON.parse(r.stdout) as { nftables: { table?: { family: string; name: string } }[] }).nftables.flatMap((i) => (i.table ? [`${i.table.family} ${i.table.name}`] : []));
      if (!Object.keys(fw.shape).length) {
        expect(tables).toEqual([]);
        return;
      }
      expect(tables).toEqual([`inet ${FIREWALL_TABLE}`]);
      expect(parseFirewallListing(r.stdout)).toEqual({ digest: fw.digest, shape: fw.shape });
    });
  });
}

describe("what the goldens rest on", () => {
  test("no zones and no NAT: the transaction only removes fos1's table, and leaves other tables alone", () => {
    const empty = compileFile(join(GOLDEN, "no-zones-no-nat.yaml"));
    const table = { table: { family: "inet", name: FIREWALL_TABLE } };
    expect(empty.commands).toEqual([{ add: table }, { delete: table }]);
    expect(empty.shape).toEqual({});
  });

  test.skipIf(!isRoot)("loaded on a host with fos1's table and Talos's, that transaction removes only fos1's", () => {
    const empty = compileFile(join(GOLDEN, "no-zones-no-nat.yaml"));
    const full = join(tmp, "full.json");
    const none = join(tmp, "none.json");
    writeFileSync(full, render(compileFile(join(GOLDEN, "nat-dnat.yaml"))));
    writeFileSync(none, render(empty));
    const r = inThrowawayNs(
      'nft add table inet talos; nft add chain inet talos ingress "{ type filter hook input priority mangle + 10; policy accept; }"; ' +
        'nft add rule inet talos ingress tcp dport 50000 counter accept; nft -j -f "$1"; nft -j -f "$2"; nft -s list ruleset',
      full,
      none,
    );
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toContain(`table inet ${FIREWALL_TABLE}`);
    expect(r.stdout).toContain("table inet talos");
    expect(r.stdout).toContain("tcp dport 50000 counter accept");
  });

  test("the lockdown (nft refused the config's table and none was in force): management in, established traffic, nothing else", () => {
    const r = loadConfigText(readFileSync(join(GOLDEN, "cluster.yaml"), "utf8"), "cluster.yaml");
    const lockdown = compileLockdown(desiredState(r.objects).firewall);
    const chains = Object.keys(lockdown.shape).filter((k) => !k.startsWith("@")).sort();
    expect(chains).toEqual(["forward", "fos1_config", "fwd_mgmt", "in_mgmt", "input"]);
    expect(lockdown.shape).toMatchObject({ "@input_zones": 1, "@forward_zones": 1, "@forward_pairs": 0, in_mgmt: 1, fwd_mgmt: 1 });
    const text = JSON.stringify(lockdown.commands);
    expect(text).toContain('"comment":"management ports (never closed)"');
    expect(text).toContain('"comment":"zone mgmt input policy"');
    expect(text).not.toMatch(/masquerade|cluster nodes|notrack|"accept":null}\],"comment":"zone mgmt forward policy"/);
  });

  test.skipIf(!isRoot)("nft loads the lockdown, and it reads back as compiled", () => {
    const r = loadConfigText(readFileSync(join(GOLDEN, "cluster.yaml"), "utf8"), "cluster.yaml");
    const lockdown = compileLockdown(desiredState(r.objects).firewall);
    const file = join(tmp, "lockdown.json");
    writeFileSync(file, render(lockdown));
    const loaded = inThrowawayNs('nft -j -f "$1"; nft -j list ruleset', file);
    expect(loaded.exitCode).toBe(0);
    expect(parseFirewallListing(loaded.stdout)).toEqual({ digest: lockdown.digest, shape: lockdown.shape });
  });

  test("a refused table falls back to the lockdown while no config's table is in force, the lockdown of an earlier refusal included", () => {
    const desired = desiredState(loadConfigText(readFileSync(join(GOLDEN, "cluster.yaml"), "utf8"), "cluster.yaml").objects).firewall;
    const lockdown = compileLockdown(desired);
    const fallbackWith = (present: ObservedFirewall | null) => firewall.plan(desired, present, { links: null as never, degraded: [] })[0]?.change.lockdown;
    expect(fallbackWith(null)).toEqual(lockdown.commands);
    // A boot refused once, then again (the agent's retry, or the next start): the lockdown stays.
    expect(fallbackWith({ digest: lockdown.digest, shape: lockdown.shape })).toEqual(lockdown.commands);
    // A config's table in force stays in force: no fallback replaces it.
    const other = compileFile(join(GOLDEN, "rules.yaml"));
    expect(fallbackWith({ digest: other.digest, shape: other.shape })).toBeUndefined();
  });

  test("compiling is deterministic, and the digest follows every change", () => {
    const a = compileFile(join(GOLDEN, "rules.yaml"));
    const b = compileFile(join(GOLDEN, "rules.yaml"));
    expect(render(a)).toBe(render(b));
    const text = readFileSync(join(GOLDEN, "rules.yaml"), "utf8").replace("ports: [80, 443]", "ports: [80, 8443]");
    const r = loadConfigText(text, "rules.yaml");
    expect(r.problems).toEqual([]);
    const c = compileFirewall(desiredState(r.objects).firewall);
    expect(c.digest).not.toBe(a.digest);
    expect(c.shape).toEqual(a.shape);
  });
});
