// The host networking engine as an operator sees it, on this machine's real kernel: fos1 runs
// inside a fresh network namespace whose "NICs" are veths to a peer namespace, and every
// assertion is about what the kernel then holds (or what a packet does), what fos1 says, and
// what it leaves in its state folder. Root is needed. Only documentation ranges are used.
import { afterAll, afterEach, beforeEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { logMessages } from "../helpers/fos1";
import {
  addVeth,
  createNs,
  destroyAll,
  dumpState,
  fos1In,
  hasBusybox,
  ip,
  ipBatch,
  nsRun,
  type AddressState,
  type NetState,
  type RouteState,
  type RuleState,
  type RunResult,
} from "./netns";

const tmp = mkdtempSync(join(tmpdir(), "fos1-netns-engine-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(destroyAll);
afterAll(destroyAll);

let fileCount = 0;
/** Writes a config file and returns its path. */
async function configFile(text: string, name = "config"): Promise<string> {
  const path = join(tmp, `${++fileCount}-${name}.yaml`);
  await Bun.write(path, text);
  return path;
}

// ---------------------------------------------------------------------------------------------
// The config under test, one document per object so that objects can be left out.

const doc = (kind: string, name: string, spec: string) => `apiVersion: network.fos1.io/v1alpha1\nkind: ${kind}\nmetadata:\n  name: ${name}\nspec:\n${spec}`;

const DOCS: Record<string, string> = {
  wan: doc("NetworkInterface", "wan", `  type: physical\n  device: nic0\n  mtu: 1400\n  addresses: [198.51.100.1/24, "2001:db8:1::1/64"]\n`),
  lan: doc("NetworkInterface", "lan", `  type: physical\n  device: nic1\n  addresses: [192.0.2.1/24, "2001:db8:2::1/64", 203.0.113.1/28]\n`),
  "to-transit": doc("Route", "to-transit", `  destination: 203.0.113.128/25\n  gateway: 198.51.100.254\n`),
  "lan-metric": doc("Route", "lan-metric", `  destination: 203.0.113.64/26\n  gateway: 192.0.2.254\n  metric: 50\n`),
  "t100-default": doc("Route", "t100-default", `  destination: default\n  gateway: 192.0.2.254\n  interface: lan\n  table: 100\n`),
  "t200-v6": doc("Route", "t200-v6", `  destination: "2001:db8:aa::/48"\n  gateway: "2001:db8:2::fe"\n  interface: lan\n  table: 200\n`),
  "v6-net": doc("Route", "v6-net", `  destination: "2001:db8:99::/48"\n  gateway: "2001:db8:1::fe"\n`),
  "drop-bench": doc("Route", "drop-bench", `  destination: 198.19.0.0/16\n  type: blackhole\n`),
  "lan-out": doc("RoutingPolicy", "lan-out", `  priority: 100\n  from: 192.0.2.0/24\n  table: 100\n`),
  "all6": doc("RoutingPolicy", "all6", `  priority: 200\n  family: ipv6\n  table: 200\n`),
};

function config(opts: { without?: string[]; extra?: string[]; replace?: Record<string, string> } = {}): string {
  const docs = Object.entries({ ...DOCS, ...opts.replace })
    .filter(([name]) => !opts.without?.includes(name))
    .map(([, d]) => d);
  return [...docs, ...(opts.extra ?? [])].join("---\n");
}

/** What the full config must put into the kernel, as `ip -json` reports it. */
const EXPECTED = {
  links: [
    { name: "nic0", kind: "veth", mtu: 1400, up: true, alias: "fos1:wan", group: "default", master: null },
    { name: "nic1", kind: "veth", mtu: 1500, up: true, alias: "fos1:lan", group: "default", master: null },
  ],
  addresses: [
    { dev: "nic0", cidr: "198.51.100.1/24", scope: "global" },
    { dev: "nic0", cidr: "2001:db8:1::1/64", scope: "global" },
    { dev: "nic1", cidr: "192.0.2.1/24", scope: "global" },
    { dev: "nic1", cidr: "2001:db8:2::1/64", scope: "global" },
    { dev: "nic1", cidr: "203.0.113.1/28", scope: "global" },
  ] as AddressState[],
  routes: [
    { family: 4, type: "unicast", dst: "203.0.113.128/25", gateway: "198.51.100.254", dev: "nic0", table: "main", metric: 0, protocol: "241" },
    { family: 4, type: "unicast", dst: "203.0.113.64/26", gateway: "192.0.2.254", dev: "nic1", table: "main", metric: 50, protocol: "241" },
    { family: 4, type: "unicast", dst: "default", gateway: "192.0.2.254", dev: "nic1", table: "100", metric: 0, protocol: "241" },
    { family: 4, type: "blackhole", dst: "198.19.0.0/16", table: "main", metric: 0, protocol: "241" },
    { family: 6, type: "unicast", dst: "2001:db8:aa::/48", gateway: "2001:db8:2::fe", dev: "nic1", table: "200", metric: 1024, protocol: "241" },
    { family: 6, type: "unicast", dst: "2001:db8:99::/48", gateway: "2001:db8:1::fe", dev: "nic0", table: "main", metric: 1024, protocol: "241" },
  ] as RouteState[],
  rules: [
    { family: 4, priority: 100, from: "192.0.2.0/24", table: "100", protocol: "241" },
    { family: 6, priority: 200, table: "200", protocol: "241" },
  ] as RuleState[],
};

const sorted = <T>(xs: T[]) => [...xs].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
const onNics = (s: NetState, nics = ["nic0", "nic1"]) => ({
  links: s.links.filter((l) => nics.includes(l.name)),
  addresses: s.addresses.filter((a) => nics.includes(a.dev)),
});

// ---------------------------------------------------------------------------------------------
// A host: namespace "router" with nic0 and nic1, veths to p0 and p1 in a peer namespace that
// plays the networks on the other side (peer ends up, so the router's NICs have carrier).

interface Host {
  ns: string;
  peer: string;
  stateDir: string;
}

let host: Host;

beforeEach(async () => {
  const ns = await createNs("router");
  const peer = await createNs("peer");
  await addVeth(ns, "nic0", peer, "p0");
  await addVeth(ns, "nic1", peer, "p1");
  await ipBatch(peer, ["link set p0 up", "link set p1 up"]);
  host = { ns, peer, stateDir: mkdtempSync(join(tmp, "state-")) };
});

interface ApplyJson {
  writes: number;
  processes: number;
  failed: { op: { subject: string }; error: string }[];
  degraded: { ref: string; subject: string; reason: string }[];
  unconverged: { subject: string }[];
  converged: boolean;
  digest: string;
}

async function apply(file: string, h = host): Promise<{ r: RunResult; out: ApplyJson }> {
  const r = await fos1In(h.ns, ["apply", "-f", file, "--state-dir", h.stateDir, "-o", "json"]);
  if (r.exitCode !== 0 && r.exitCode !== 1) throw new Error(`apply exited ${r.exitCode}: ${logMessages(r)}\n${r.stderr}`);
  return { r, out: JSON.parse(r.stdout) as ApplyJson };
}

/** Applies and insists that it converged with exit 0. */
async function applyOk(file: string, h = host): Promise<ApplyJson> {
  const { r, out } = await apply(file, h);
  expect({ exitCode: r.exitCode, failed: out.failed, unconverged: out.unconverged, converged: out.converged }).toEqual({
    exitCode: 0,
    failed: [],
    unconverged: [],
    converged: true,
  });
  return out;
}

interface PlanJson {
  ops: { phase: string; action: string; ref: string; subject: string }[];
  degraded: unknown[];
}

async function planJson(file: string): Promise<PlanJson> {
  const r = await fos1In(host.ns, ["plan", "-f", file, "-o", "json"]);
  expect(r.exitCode).toBe(0);
  return JSON.parse(r.stdout) as PlanJson;
}

/** busybox ping (hack/setup installs busybox-static), one echo at a time so that a first one
 *  lost while a link settles is retried: true as soon as a reply comes back. */
async function ping(ns: string, target: string, opts: { from?: string; tries?: number } = {}): Promise<boolean> {
  if (!hasBusybox()) throw new Error("busybox is needed for ping (hack/setup installs busybox-static)");
  const args = ["busybox", "ping", ...(target.includes(":") ? ["-6"] : []), "-c", "1", "-W", "1", ...(opts.from ? ["-I", opts.from] : []), target];
  for (let i = 0; i < (opts.tries ?? 5); i++) if ((await nsRun(ns, args)).exitCode === 0) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------

describe("apply puts the declared config into the kernel", () => {
  test("links, addresses, routes of every table and rules appear exactly as declared", async () => {
    const file = await configFile(config());
    const out = await applyOk(file);
    expect(out.degraded).toEqual([]);
    expect(out.writes).toBeGreaterThan(0);

    const s = await dumpState(host.ns, { owned: true });
    expect(onNics(s)).toEqual({ links: EXPECTED.links, addresses: sorted(EXPECTED.addresses) });
    expect(sorted(s.routes)).toEqual(sorted(EXPECTED.routes));
    expect(sorted(s.rules)).toEqual(sorted(EXPECTED.rules));
    // A router forwards: fos1 turns forwarding on (a new namespace starts with it off).
    expect(s.sysctls).toEqual({ "net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "1" });
  });

  test("packets flow: the peer reaches the addresses, and the policy rules pick the tables", { timeout: 30_000 }, async () => {
    await applyOk(await configFile(config()));
    // The wan network's far end; on the lan side the gateways of tables 100 and 200, which
    // also hold 203.0.113.200 (main would send it towards 198.51.100.254, which is absent)
    // and 2001:db8:aa::1 (main has no route to it at all).
    await ipBatch(host.peer, [
      "address add 198.51.100.2/24 dev p0",
      "address add 2001:db8:1::2/64 dev p0 nodad",
      "address add 192.0.2.254/24 dev p1",
      "address add 2001:db8:2::fe/64 dev p1 nodad",
      "address add 203.0.113.200/32 dev p1",
      "address add 2001:db8:aa::1/128 dev p1 nodad",
    ]);

    expect(await ping(host.peer, "198.51.100.1")).toBe(true);
    expect(await ping(host.peer, "2001:db8:1::1")).toBe(true);
    // From a lan source the rule (priority 100, from 192.0.2.0/24) looks up table 100, whose
    // default route leads to the lan peer; from the wan address main's route leads nowhere.
    expect(await ping(host.ns, "203.0.113.200", { from: "192.0.2.1" })).toBe(true);
    expect(await ping(host.ns, "203.0.113.200", { from: "198.51.100.1", tries: 2 })).toBe(false);
    // Every IPv6 lookup goes through table 200 first (priority 200, family ipv6).
    expect(await ping(host.ns, "2001:db8:aa::1")).toBe(true);
    // The blackhole drops locally: the kernel refuses to route there at all.
    const bh = await nsRun(host.ns, ["ip", "route", "get", "198.19.1.1"]);
    expect(bh.exitCode).not.toBe(0);
    expect(bh.stderr).toMatch(/Invalid argument/);
  });

  test("a second apply of the same config makes no kernel write", async () => {
    const file = await configFile(config());
    await applyOk(file);
    const before = await dumpState(host.ns);
    const again = await applyOk(file);
    expect({ writes: again.writes, processes: again.processes }).toEqual({ writes: 0, processes: 0 });
    expect(await dumpState(host.ns)).toEqual(before);
  });
});

describe("plan", () => {
  test("on a converged host says no changes; after an owned address is deleted it shows exactly that address", async () => {
    const file = await configFile(config());
    await applyOk(file);

    const text = await fos1In(host.ns, ["plan", "-f", file]);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toContain("No changes");
    expect((await planJson(file)).ops).toEqual([]);

    await ip(host.ns, "address", "del", "203.0.113.1/28", "dev", "nic1");
    const p = await planJson(file);
    expect(p.ops.map((o) => ({ phase: o.phase, action: o.action, ref: o.ref, subject: o.subject }))).toEqual([
      { phase: "addresses", action: "add", ref: "NetworkInterface/lan", subject: "address 203.0.113.1/28 on nic1" },
    ]);
    // plan changed nothing; apply puts it back and only it.
    expect((await dumpState(host.ns)).addresses).not.toContainEqual({ dev: "nic1", cidr: "203.0.113.1/28", scope: "global" });
    expect((await applyOk(file)).writes).toBe(1);
    expect((await planJson(file)).ops).toEqual([]);
  });

  test("after someone flushes a link's IPv4 addresses, plan also shows the routes the kernel dropped with them", async () => {
    const file = await configFile(config());
    await applyOk(file);
    const converged = await dumpState(host.ns);
    // With its last IPv4 address gone the kernel removes every IPv4 route through the link.
    await ip(host.ns, "-4", "address", "flush", "dev", "nic1");
    const p = await planJson(file);
    expect(sorted(p.ops.map((o) => `${o.action} ${o.subject}`))).toEqual(
      sorted([
        "add address 192.0.2.1/24 on nic1",
        "add address 203.0.113.1/28 on nic1",
        "add route 203.0.113.64/26 via 192.0.2.254 table main metric 50",
        "add route default via 192.0.2.254 dev nic1 table 100",
      ]),
    );
    expect((await applyOk(file)).writes).toBe(4);
    expect(await dumpState(host.ns)).toEqual(converged);
  });
});

describe("fos1 owns only what it declared", () => {
  /** Objects of others: a route and rules without fos1's protocol (one rule shares a priority
   *  with fos1's), a link fos1 was never told about with addresses, lo's addresses. */
  async function addForeign() {
    await addVeth(host.ns, "nic2", host.peer, "p2");
    await runBridge();
    await ipBatch(host.ns, [
      "link set lo up",
      "address add 203.0.113.250/32 dev lo",
      "link set nic2 up",
      "link set nic2 mtu 1280",
      "link set nic2 alias someone-else",
      "address add 198.18.5.1/24 dev nic2",
      "address add 2001:db8:5::1/64 dev nic2 nodad",
      "route add 203.0.113.96/27 via 198.51.100.254",
      "route add blackhole 203.0.113.224/27 table 100",
      "route add 198.18.64.0/18 via 198.18.5.254 table 100",
      "rule add priority 100 from 198.18.0.0/15 table 100",
      "rule add priority 150 from 203.0.113.0/24 table 100",
    ]);
    await ip(host.ns, "-6", "rule", "add", "priority", "200", "from", "2001:db8:5::/48", "table", "100");
  }
  async function runBridge() {
    await ipBatch(host.ns, ["link add brx type bridge", "link set brx up", "address add 198.18.9.1/24 dev brx"]);
  }

  /** The foreign part of a full dump: everything not on nic0/nic1 and not fos1's protocol. */
  const foreign = (s: NetState) => ({
    links: s.links.filter((l) => !["nic0", "nic1"].includes(l.name)),
    addresses: s.addresses.filter((a) => !["nic0", "nic1"].includes(a.dev)),
    routes: s.routes.filter((r) => r.protocol !== "241"),
    rules: s.rules.filter((r) => r.protocol !== "241"),
  });

  test("others' routes, rules, links and addresses, and lo's, survive apply, re-apply and an apply that removes objects", async () => {
    const full = await configFile(config());
    await applyOk(full); // the routes via 198.51.100.254 need wan's address first
    await addForeign();
    const start = foreign(await dumpState(host.ns));
    // What was set up is really there (the check below cannot pass on an empty dump).
    expect(start.links.map((l) => l.name).sort()).toEqual(["brx", "lo", "nic2"]);
    expect(start.addresses.map((a) => a.cidr).sort()).toEqual(["127.0.0.1/8", "198.18.5.1/24", "198.18.9.1/24", "2001:db8:5::1/64", "203.0.113.250/32", "::1/128"]);
    expect(start.routes.map((r) => r.dst).sort()).toEqual(["198.18.64.0/18", "203.0.113.224/27", "203.0.113.96/27"]);
    expect(start.rules.filter((r) => r.priority > 0 && r.priority < 32766).map((r) => r.priority)).toEqual([100, 150, 200]);

    await applyOk(full);
    expect(foreign(await dumpState(host.ns))).toEqual(start);

    const reduced = await configFile(config({ without: ["drop-bench", "all6"], replace: { lan: DOCS.lan!.replace(", 203.0.113.1/28", "") } }));
    const out = await applyOk(reduced);
    expect(out.writes).toBe(3);
    const after = await dumpState(host.ns);
    expect(foreign(after)).toEqual(start);
    expect(after.links.find((l) => l.name === "nic2")).toEqual({ name: "nic2", kind: "veth", mtu: 1280, up: true, alias: "someone-else", group: "default", master: null });

    await applyOk(reduced);
    expect(foreign(await dumpState(host.ns))).toEqual(start);
  });

  test("objects removed from the config are removed from the kernel, and nothing else is", async () => {
    const full = await configFile(config());
    await applyOk(full);
    const before = await dumpState(host.ns);
    const reduced = await configFile(config({ without: ["drop-bench", "all6"], replace: { lan: DOCS.lan!.replace(", 203.0.113.1/28", "") } }));
    await applyOk(reduced);
    const after = await dumpState(host.ns);
    expect(after).toEqual({
      sysctls: before.sysctls,
      links: before.links,
      addresses: before.addresses.filter((a) => a.cidr !== "203.0.113.1/28"),
      routes: before.routes.filter((r) => r.dst !== "198.19.0.0/16"),
      rules: before.rules.filter((r) => !(r.family === 6 && r.priority === 200)),
    });
    // And they were there before: the filters above each removed exactly one object.
    expect(before.addresses.length - after.addresses.length).toBe(1);
    expect(before.routes.length - after.routes.length).toBe(1);
    expect(before.rules.length - after.rules.length).toBe(1);
  });
});

describe("a NIC in the config that is not on the host", () => {
  test("is reported degraded, exit 0, and the rest of the config is applied", async () => {
    const ghost = doc("NetworkInterface", "ghost", `  type: physical\n  device: nic9\n  mtu: 1400\n  addresses: [203.0.113.17/28, "2001:db8:9::1/64"]\n`);
    const ghostRoute = doc("Route", "via-ghost", `  destination: 203.0.113.32/28\n  interface: ghost\n`);
    // A route naming only a gateway that is on the missing NIC's network depends on it too.
    const ghostGateway = doc("Route", "via-ghost-gw", `  destination: 203.0.113.48/28\n  gateway: 203.0.113.30\n`);
    const file = await configFile(config({ extra: [ghost, ghostRoute, ghostGateway] }));
    const { r, out } = await apply(file);
    expect(r.exitCode).toBe(0);
    expect(out.converged).toBe(true);
    expect(out.failed).toEqual([]);
    expect(sorted(out.degraded.map((d) => d.ref))).toEqual(["NetworkInterface/ghost", "Route/via-ghost", "Route/via-ghost-gw"]);
    expect(out.degraded.find((d) => d.ref === "NetworkInterface/ghost")!.reason).toContain("nic9");

    const s = await dumpState(host.ns, { owned: true });
    expect(onNics(s)).toEqual({ links: EXPECTED.links, addresses: sorted(EXPECTED.addresses) });
    expect(sorted(s.routes)).toEqual(sorted(EXPECTED.routes));
    expect(sorted(s.rules)).toEqual(sorted(EXPECTED.rules));
    expect(s.links.map((l) => l.name)).not.toContain("nic9");
  });
});

describe("invalid input changes nothing", () => {
  const lineOf = (text: string, needle: string) => text.split("\n").findIndex((l) => l.includes(needle)) + 1;

  const cases: { name: string; text: string; line: (t: string) => number; path: string; says: RegExp }[] = [
    {
      name: "a gateway on no connected network",
      text: config({ extra: [doc("Route", "nowhere", `  destination: 198.18.128.0/17\n  gateway: 203.0.113.99\n`)] }),
      line: (t) => lineOf(t, "gateway: 203.0.113.99"),
      path: "(Route/nowhere) spec.gateway:",
      says: /not on any network/,
    },
    {
      name: "a duplicate address",
      text: config({ replace: { wan: DOCS.wan!.replace("198.51.100.1/24,", "198.51.100.1/24, 198.51.100.1/25,") } }),
      line: (t) => lineOf(t, "198.51.100.1/25"),
      path: "(NetworkInterface/wan) spec.addresses[1]:",
      says: /already on/,
    },
    {
      name: "a YAML syntax error",
      text: config({ replace: { wan: DOCS.wan!.replace("  mtu: 1400\n", "  mtu: 1400: 9000\n") } }),
      line: (t) => lineOf(t, "mtu: 1400: 9000"),
      path: "document 1:",
      says: /YAML/,
    },
  ];

  for (const c of cases)
    test(`${c.name}: exit 2, the error names file, line and field, and kernel and journal are untouched`, async () => {
      const good = await configFile(config());
      await applyOk(good);
      await ip(host.ns, "link", "set", "lo", "up");
      const journalBefore = journalFiles(host.stateDir);
      const before = await dumpState(host.ns);

      const bad = await configFile(c.text, "bad");
      const r = await fos1In(host.ns, ["apply", "-f", bad, "--state-dir", host.stateDir, "-o", "json"]);
      expect(r.exitCode).toBe(2);
      expect(r.stdout).toBe("");
      const msg = logMessages(r);
      const line = c.line(c.text);
      expect(line).toBeGreaterThan(0);
      expect(msg).toMatch(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:${line}:\\d+: .*${c.path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} `));
      expect(msg).toMatch(c.says);
      expect(msg).toContain("nothing was changed");

      expect(await dumpState(host.ns)).toEqual(before);
      expect(journalFiles(host.stateDir)).toEqual(journalBefore);
    });
});

/** The journal folder's files and their contents. */
function journalFiles(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ["journal.json", "pending.yaml", "last-known-good.yaml", "history.jsonl"]) {
    const p = join(dir, name);
    if (existsSync(p)) out[name] = readFileSync(p, "utf8");
  }
  return out;
}

describe("the journal", () => {
  test("after a successful apply last-known-good.yaml is the applied file, nothing is pending, and history says converged", async () => {
    const text = config();
    const file = await configFile(text);
    const out = await applyOk(file);
    const digest = "sha256:" + createHash("sha256").update(text).digest("hex");
    expect(out.digest).toBe(digest);

    expect(readFileSync(join(host.stateDir, "last-known-good.yaml"), "utf8")).toBe(text);
    expect(existsSync(join(host.stateDir, "pending.yaml"))).toBe(false);
    expect(JSON.parse(readFileSync(join(host.stateDir, "journal.json"), "utf8")).pending).toBeNull();
    const history = readFileSync(join(host.stateDir, "history.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ digest, outcome: "converged", writes: out.writes, failed: 0 });

    // A second config replaces the first as last-known-good; history keeps both.
    const text2 = config({ without: ["drop-bench"] });
    await applyOk(await configFile(text2));
    expect(readFileSync(join(host.stateDir, "last-known-good.yaml"), "utf8")).toBe(text2);
    const lines = readFileSync(join(host.stateDir, "history.jsonl"), "utf8").trim().split("\n");
    expect(lines.map((l) => (JSON.parse(l) as { outcome: string }).outcome)).toEqual(["converged", "converged"]);
  });
});
