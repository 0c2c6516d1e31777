// What `fos1 status` reports: the host as observed, annotated with what fos1 owns, and the
// journal's view of which config is in force.
import { readFile } from "node:fs/promises";
import { hostname, release } from "node:os";
import { isOwned, type ObservedLink, type RouteEntry, type RuleEntry } from "./model";
import { observeHost } from "./observe";
import { Journal, type JournalEntry } from "./journal";

export interface InterfaceStatus {
  name: string;
  kind: string;
  adminUp: boolean;
  state: string;
  /** Mb/s as the driver reports it; null when down or unknown. */
  speedMbps: number | null;
  mtu: number;
  mac: string | null;
  addresses: string[];
  /** fos1 created or adopted it. */
  managed: boolean;
  master: string | null;
  vlan?: { parent: string; id: number; protocol: string };
  vrfTable?: number;
  bond?: { mode: string; lacpRate?: string; members: { name: string; state?: string; mii?: string; aggregatorId?: number }[] };
}

export interface HostStatus {
  hostname: string;
  kernel: string;
  config: { lastKnownGood: JournalEntry | null; pending: JournalEntry | null };
  interfaces: InterfaceStatus[];
  routes: RouteEntry[];
  rules: RuleEntry[];
  /** fos1's nftables table: which config it was compiled from and how big it is; null when absent. */
  firewall: { digest: string | null; chains: number; rules: number } | null;
}

async function speed(name: string): Promise<number | null> {
  const text = await readFile(`/sys/class/net/${name}/speed`, "utf8").catch(() => "");
  const n = Number(text.trim());
  return Number.isFinite(n) && n > 0 ? n : null;
}

export async function hostStatus(stateDir: string): Promise<HostStatus> {
  const observed = await observeHost();
  const journal = new Journal(stateDir);
  const speeds = await Promise.all(observed.links.map((l) => speed(l.name)));
  const interfaces = observed.links.map((l, i) => describe(l, speeds[i] ?? null, observed.links));
  return {
    hostname: hostname(),
    kernel: release(),
    config: { lastKnownGood: journal.lastKnownGood()?.entry ?? null, pending: journal.pending()?.entry ?? null },
    interfaces,
    routes: observed.routes,
    rules: observed.rules,
    firewall: observed.firewall && {
      digest: observed.firewall.digest,
      chains: Object.keys(observed.firewall.shape).filter((k) => !k.startsWith("@")).length,
      rules: Object.entries(observed.firewall.shape).filter(([k]) => !k.startsWith("@")).reduce((n, [, v]) => n + v, 0),
    },
  };
}

function describe(l: ObservedLink, speedMbps: number | null, all: ObservedLink[]): InterfaceStatus {
  const s: InterfaceStatus = {
    name: l.name,
    kind: l.kind,
    adminUp: l.adminUp,
    state: l.state,
    speedMbps,
    mtu: l.mtu,
    mac: l.mac,
    addresses: l.addresses.map((a) => a.cidr),
    managed: isOwned(l),
    master: l.master,
  };
  if (l.vlan) s.vlan = l.vlan;
  if (l.vrf) s.vrfTable = l.vrf.table;
  if (l.bond)
    s.bond = {
      mode: l.bond.mode,
      ...(l.bond.mode === "802.3ad" && l.bond.lacpRate ? { lacpRate: l.bond.lacpRate } : {}),
      members: all.filter((m) => m.member?.of === l.name).map((m) => ({ name: m.name, ...m.member, of: undefined })),
    };
  return s;
}
