// Network namespaces for tests on this machine's real kernel (root needed): uniquely named
// namespaces and veth pairs that are always removed (destroyAll in afterAll/afterEach, and at
// process exit), commands and the fos1 CLI run inside a namespace, and a namespace's network
// state dumped in a normalized form that two namespaces built the same way share exactly.
// Only documentation/test address ranges are used by the tests; nothing leaves a namespace.
import { resolve } from "node:path";
import { existsSync, readdirSync } from "node:fs";
import type { Subprocess } from "bun";
import type { IpRoute } from "../../src/engine/routes";
import type { IpRule } from "../../src/engine/rules";

const repo = resolve(import.meta.dir, "../..");
const PREFIX = "fos1t-";

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs argv (no shell) and collects its output. */
export async function run(argv: string[], opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
  const proc = Bun.spawn(argv, {
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...opts.env },
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { exitCode, stdout, stderr };
}

/** Like run, but a non-zero exit throws with the command and its output. */
export async function runOk(argv: string[], opts: { stdin?: string } = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} exited ${r.exitCode}\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

// ---------------------------------------------------------------------------------------------
// Namespaces and veth pairs

const live = new Set<string>();
let counter = 0;

/** Removes namespaces left by an earlier test process that was killed before its cleanup. */
function reapStale() {
  if (!existsSync("/run/netns")) return;
  for (const name of readdirSync("/run/netns")) {
    const m = /^fos1t-(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.pid) continue;
    if (existsSync(`/proc/${m[1]}`)) continue; // its test process still runs
    Bun.spawnSync(["ip", "netns", "del", name], { stdout: "ignore", stderr: "ignore" });
  }
}
reapStale();

process.on("exit", () => {
  for (const name of live) Bun.spawnSync(["ip", "netns", "del", name], { stdout: "ignore", stderr: "ignore" });
});

/** A new, empty namespace (lo down) named fos1t-<pid>-<n>-<tag>. */
export async function createNs(tag = "ns"): Promise<string> {
  const name = `${PREFIX}${process.pid}-${++counter}-${tag}`;
  await runOk(["ip", "netns", "add", name]);
  live.add(name);
  return name;
}

export async function destroyNs(name: string): Promise<void> {
  if (!live.delete(name)) return;
  await run(["ip", "netns", "del", name]);
}

/** Deletes every namespace this process created (their veths go with them). */
export async function destroyAll(): Promise<void> {
  await Promise.all([...live].map(destroyNs));
}

/** A veth pair: `name` in `ns`, `peerName` in `peerNs`, both left down. */
export async function addVeth(ns: string, name: string, peerNs: string, peerName: string): Promise<void> {
  await runOk(["ip", "-n", ns, "link", "add", name, "type", "veth", "peer", "name", peerName, "netns", peerNs]);
}

/** Runs argv inside the namespace. */
export function nsRun(ns: string, argv: string[], opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
  return run(["ip", "netns", "exec", ns, ...argv], opts);
}

/** iproute2 in the namespace (`ip -n NS …`); a non-zero exit throws. */
export function ip(ns: string, ...args: string[]): Promise<string> {
  return runOk(["ip", "-n", ns, ...args]);
}

/** Several iproute2 commands in one `ip -n NS -batch -`; any failing line throws. */
export function ipBatch(ns: string, lines: string[]): Promise<string> {
  return runOk(["ip", "-n", ns, "-batch", "-"], { stdin: lines.join("\n") + "\n" });
}

// ---------------------------------------------------------------------------------------------
// fos1 inside a namespace: the compiled executable when FOS1_BIN names it, else the source.

export function fos1Argv(args: string[]): string[] {
  return [...(process.env.FOS1_BIN ? [process.env.FOS1_BIN] : [process.execPath, resolve(repo, "src/main.ts")]), ...args];
}

export function fos1In(ns: string, args: string[]): Promise<RunResult> {
  return nsRun(ns, fos1Argv(args));
}

/**
 * Starts fos1 in the namespace as the leader of its own process group (`ip netns exec` and
 * `setsid` both exec, so the returned pid is fos1's and the group is fos1 with the ip
 * processes it starts): `killGroup` then ends all of it, as a crash or power cut would.
 */
export function spawnFos1In(ns: string, args: string[]): Subprocess<"ignore", "pipe", "pipe"> {
  return Bun.spawn(["ip", "netns", "exec", ns, "setsid", ...fos1Argv(args)], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
}

/** SIGKILL to a process group; false when it had already gone. */
export function killGroup(pid: number): boolean {
  try {
    process.kill(-pid, "SIGKILL");
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Normalized network state

export interface LinkState {
  name: string;
  /** linkinfo kind (veth, bridge, …) or the link type (loopback, ether) when there is none. */
  kind: string;
  mtu: number;
  /** Administrative state (the UP flag); carrier and operstate follow the peer and are left out. */
  up: boolean;
  alias: string | null;
  /** Link group ("default", or a number: fos1 puts the links it creates in group 241). */
  group: string;
  master: string | null;
}

export interface AddressState {
  dev: string;
  /** address/prefixlen as the kernel prints it */
  cidr: string;
  scope: string;
}

export interface RouteState {
  family: 4 | 6;
  type: string;
  dst: string;
  gateway?: string;
  dev?: string;
  table: string;
  metric: number;
  protocol: string;
}

export interface RuleState {
  family: 4 | 6;
  priority: number;
  from?: string;
  to?: string;
  iif?: string;
  oif?: string;
  fwmark?: string;
  table: string;
  protocol: string;
}

/** The kernel settings a router needs, read inside the namespace (they are per namespace). */
export const SYSCTLS = ["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"] as const;

export interface NetState {
  sysctls: Record<string, string>;
  links: LinkState[];
  /** Static addresses only: no finite lifetime, not IPv6 link-local (the kernel makes those). */
  addresses: AddressState[];
  /** Routes of every table; see DumpOptions.owned. Never the kernel's own (proto kernel). */
  routes: RouteState[];
  rules: RuleState[];
}

export interface DumpOptions {
  /** Only fos1's routes (proto 241) and rules (protocol 241). Default: every non-kernel route and every rule. */
  owned?: boolean;
}

interface JLink {
  ifname: string;
  mtu: number;
  flags?: string[];
  link_type?: string;
  ifalias?: string;
  group?: string;
  master?: string;
  linkinfo?: { info_kind?: string };
  addr_info?: { family: string; local: string; prefixlen: number; scope?: string; valid_life_time?: number }[];
}
type JRoute = IpRoute & { protocol?: string };
type JRule = IpRule;

const FOREVER = 4294967295;
const byJson = <T>(a: T, b: T) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0);

export async function dumpState(ns: string, opts: DumpOptions = {}): Promise<NetState> {
  const owned = opts.owned ?? false;
  const routeFilter = owned ? ["proto", "241"] : [];
  const [sysctlText, linksJ, r4, r6, rules4, rules6] = await Promise.all([
    nsRun(ns, ["sysctl", "-n", ...SYSCTLS]),
    ip(ns, "-json", "-details", "address", "show"),
    ip(ns, "-json", "-4", "route", "show", "table", "all", ...routeFilter),
    ip(ns, "-json", "-6", "route", "show", "table", "all", ...routeFilter),
    ip(ns, "-json", "-4", "rule", "show"),
    ip(ns, "-json", "-6", "rule", "show"),
  ]);
  const links: LinkState[] = [];
  const addresses: AddressState[] = [];
  for (const l of JSON.parse(linksJ) as JLink[]) {
    links.push({
      name: l.ifname,
      kind: l.linkinfo?.info_kind ?? l.link_type ?? "unknown",
      mtu: l.mtu,
      up: l.flags?.includes("UP") ?? false,
      alias: l.ifalias ?? null,
      group: l.group ?? "default",
      master: l.master ?? null,
    });
    for (const a of l.addr_info ?? []) {
      if (a.family !== "inet" && a.family !== "inet6") continue;
      if (a.valid_life_time !== undefined && a.valid_life_time !== FOREVER) continue;
      if (a.family === "inet6" && a.scope === "link") continue;
      addresses.push({ dev: l.ifname, cidr: `${a.local}/${a.prefixlen}`, scope: a.scope ?? "global" });
    }
  }
  const routes: RouteState[] = [];
  for (const [family, text] of [[4, r4], [6, r6]] as const)
    for (const r of JSON.parse(text) as JRoute[]) {
      const protocol = r.protocol ?? (owned ? "241" : "boot");
      if (protocol === "kernel") continue;
      routes.push({
        family,
        type: r.type ?? "unicast",
        dst: r.dst,
        ...(r.gateway ? { gateway: r.gateway } : {}),
        ...(r.dev ? { dev: r.dev } : {}),
        table: r.table ?? "main",
        metric: r.metric ?? 0,
        protocol,
      });
    }
  const rules: RuleState[] = [];
  for (const [family, text] of [[4, rules4], [6, rules6]] as const)
    for (const r of JSON.parse(text) as JRule[]) {
      const protocol = r.protocol ?? "unspec";
      if (owned && protocol !== "241") continue;
      rules.push({
        family,
        priority: r.priority,
        ...(r.src && r.src !== "all" ? { from: `${r.src}/${r.srclen ?? (family === 4 ? 32 : 128)}` } : {}),
        ...(r.dst && r.dst !== "all" ? { to: `${r.dst}/${r.dstlen ?? (family === 4 ? 32 : 128)}` } : {}),
        ...(r.iif ? { iif: r.iif } : {}),
        ...(r.oif ? { oif: r.oif } : {}),
        ...(r.fwmark ? { fwmark: `${r.fwmark}${r.fwmask ? `/${r.fwmask}` : ""}` } : {}),
        table: r.table ?? "main",
        protocol,
      });
    }
  if (sysctlText.exitCode !== 0) throw new Error(`sysctl in ${ns} failed: ${sysctlText.stderr}`);
  const values = sysctlText.stdout.trim().split("\n");
  const sysctls = Object.fromEntries(SYSCTLS.map((k, i) => [k, values[i] ?? ""]));
  return {
    sysctls,
    links: links.sort(byJson),
    addresses: addresses.sort(byJson),
    routes: routes.sort((a, b) => a.family - b.family || byJson(a, b)),
    rules: rules.sort((a, b) => a.family - b.family || a.priority - b.priority || byJson(a, b)),
  };
}

/** Counts of a dump, for log lines. */
export function summary(s: NetState): string {
  return `${s.links.length} links, ${s.addresses.length} addresses, ${s.routes.length} routes, ${s.rules.length} rules`;
}

/** Whether busybox (hack/setup installs busybox-static) is there to send pings. */
export const hasBusybox = () => Bun.which("busybox") !== null;
