// Reads what the allowlist must know of the host while the reader runs (allowlist.ts is the
// pure part): the links' addresses; the next hops of fos1's routes in the kernel (every table,
// both families: protocol FOS1_PROTO, fos1's Route objects, and protocol dhcp, the routes fos1's
// DHCP client installs, classless static ones included); what the uplinks' DHCP leases name
// (dhcpcd's lease files, the same files the DHCP client's status reads: src/engine/dhcp/lease.ts);
// and, with a cluster, its nodes' addresses. A part that cannot be read is left empty and said once: the rest still
// protects, and the next read tries again.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../base/log";
import { runToolOk } from "../base/tool";
import { parseLease4, parseLease6 } from "../engine/dhcp/lease";
import { observeLinks, splitJsonArrays } from "../engine/host-reader";
import { FOS1_PROTO } from "../engine/model";
import type { KubeApi } from "../cluster/kube-api";
import { NODE } from "../cluster/resources";
import type { HostFacts, LeaseFacts, LinkAddresses } from "./allowlist";

/** dhcpcd's compiled-in lease directory (src/engine/dhcp/supervisor.ts). */
export const DEFAULT_LEASE_DIR = "/var/lib/dhcpcd";

/** The gateways of `ip -json route show` output, multipath next hops included. */
export function nextHopsOf(json: string): string[] {
  const routes = JSON.parse(json) as { gateway?: string; nexthops?: { gateway?: string }[] }[];
  return routes.flatMap((r) => [r.gateway, ...(r.nexthops ?? []).map((n) => n.gateway)].filter((g): g is string => typeof g === "string"));
}

/** What dhcpcd's lease files in dir name, one entry per file (<ifname>.lease, <ifname>.lease6). */
export function readLeases(dir: string): LeaseFacts[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return []; // no DHCP client has run on this host
    throw err;
  }
  const out: LeaseFacts[] = [];
  for (const name of names) {
    const m = /^(.+)\.lease(6?)$/.exec(name);
    if (!m) continue;
    const bytes = new Uint8Array(readFileSync(join(dir, name)));
    if (m[2] === "6") {
      const l = parseLease6(bytes);
      if (l) out.push({ ifname: m[1]!, dnsServers: l.dnsServers });
    } else {
      const l = parseLease4(bytes);
      if (l) out.push({ ifname: m[1]!, dnsServers: l.dnsServers, ...(l.gateway ? { gateway: l.gateway } : {}), ...(l.server ? { server: l.server } : {}) });
    }
  }
  return out;
}

/** The InternalIP and ExternalIP addresses of every Node. */
export async function clusterNodeAddresses(api: KubeApi): Promise<string[]> {
  const nodes = (await api.list(NODE)).items as { status?: { addresses?: { type?: string; address?: string }[] } }[];
  return nodes.flatMap((n) => (n.status?.addresses ?? []).filter((a) => a.type === "InternalIP" || a.type === "ExternalIP").flatMap((a) => a.address ?? []));
}

export interface HostFactsReader {
  read(): Promise<HostFacts>;
}

export function hostFactsReader(o: { leaseDir: string; nodes?: () => Promise<string[]>; log: Logger }): HostFactsReader {
  const failing = new Set<string>();
  /** A part's value, or its fallback when it cannot be read (said once until it reads again). */
  const part = async <T>(name: string, read: () => Promise<T> | T, fallback: T): Promise<T> => {
    try {
      const v = await read();
      failing.delete(name);
      return v;
    } catch (err) {
      if (!failing.has(name)) o.log.warn("cannot read a part of the IDS allowlist; it is left out until it can be read", { part: name, error: (err as Error).message });
      failing.add(name);
      return fallback;
    }
  };
  // One ip per family: `-4`/`-6` cannot be given per line of a batch.
  const routes = async (family: string) =>
    splitJsonArrays(await runToolOk({ purpose: "read fos1's routes", argv: ["ip", "-json", family, "-batch", "-"], stdin: `route show table all proto ${FOS1_PROTO}\nroute show table all proto dhcp\n` })).flatMap(nextHopsOf);
  return {
    read: async () => ({
      links: await part<LinkAddresses[]>("links", () => observeLinks(), []),
      nextHops: [...(await part("routes", () => routes("-4"), [])), ...(await part("IPv6 routes", () => routes("-6"), []))],
      leases: await part("leases", () => readLeases(o.leaseDir), []),
      nodes: o.nodes ? await part("cluster nodes", o.nodes, []) : [],
    }),
  };
}
