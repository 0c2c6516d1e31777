// Reading what dhcpcd obtained: its lease dump (`dhcpcd --dumplease IFACE`, blocks of
// key=value lines in dhcpcd-run-hooks(8)'s variable names) and the kernel's addresses
// (`ip -json addr`). Pure functions; the supervisor runs the programs.
import type { DhcpClientSpec, DhcpLeaseStatus, KernelAddress, LeaseV4, LeaseV6 } from "./spec";

export interface LeaseDump {
  v4?: LeaseV4;
  v6?: LeaseV6;
}

/** Parses `dhcpcd -U IFACE` output. Blocks are per protocol: link, dhcp, ra, dhcp6. */
export function parseLeaseDump(text: string): LeaseDump {
  const dump: LeaseDump = {};
  for (const block of text.split(/\n\s*\n/)) {
    const env = new Map<string, string>();
    for (const line of block.split("\n")) {
      const eq = line.indexOf("=");
      if (eq > 0) env.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
    }
    const protocol = env.get("protocol");
    if (protocol === "dhcp" && env.get("ip_address")) {
      const v4: LeaseV4 = {
        address: `${env.get("ip_address")}/${env.get("subnet_cidr") ?? "32"}`,
        dnsServers: words(env.get("domain_name_servers")),
      };
      const gateway = words(env.get("routers"))[0];
      if (gateway) v4.gateway = gateway;
      const server = env.get("dhcp_server_identifier");
      if (server) v4.server = server;
      const lease = num(env.get("dhcp_lease_time"));
      if (lease !== undefined) v4.leaseSeconds = lease;
      dump.v4 = v4;
    }
    if (protocol === "dhcp6") {
      const v6: LeaseV6 = { addresses: [], delegatedPrefixes: [], dnsServers: words(env.get("dhcp6_name_servers")) };
      for (const [key, value] of env) {
        if (/^dhcp6_ia_na\d+_ia_addr\d+$/.test(key)) v6.addresses.push(`${value}/128`);
        if (/^dhcp6_ia_pd\d+_prefix\d+$/.test(key)) {
          const length = env.get(`${key}_length`);
          if (!length) continue;
          const p: LeaseV6["delegatedPrefixes"][number] = { prefix: `${value}/${length}` };
          const valid = num(env.get(`${key}_vltime`)), preferred = num(env.get(`${key}_pltime`));
          if (valid !== undefined) p.validSeconds = valid;
          if (preferred !== undefined) p.preferredSeconds = preferred;
          v6.delegatedPrefixes.push(p);
        }
      }
      if (v6.addresses.length || v6.delegatedPrefixes.length) dump.v6 = v6;
    }
  }
  return dump;
}

interface IpAddrLink {
  ifname: string;
  addr_info?: {
    family: string;
    local: string;
    prefixlen: number;
    scope?: string;
    dynamic?: boolean;
    noprefixroute?: boolean;
    valid_life_time?: number;
    preferred_life_time?: number;
  }[];
}

const FOREVER = 4294967295;

/**
 * Per uplink: the lease (when dhcpcd has one) and the kernel's view. On the uplink, the global
 * addresses with a finite lifetime ("dynamic") or without a kernel prefix route
 * ("noprefixroute": dhcpcd sets it on every address it adds, and adds the routes itself).
 */
export function buildStatus(
  specs: DhcpClientSpec[],
  running: boolean,
  dumps: Map<string, LeaseDump>,
  ipAddrJson: string,
): DhcpLeaseStatus[] {
  const links = JSON.parse(ipAddrJson) as IpAddrLink[];
  const addressesOf = (ifname: string): KernelAddress[] =>
    (links.find((l) => l.ifname === ifname)?.addr_info ?? [])
      .filter((a) => (a.family === "inet" || a.family === "inet6") && (a.scope ?? "global") === "global")
      .map((a) => ({
        raw: a,
        k: {
          cidr: `${a.local}/${a.prefixlen}`,
          family: a.family === "inet" ? (4 as const) : (6 as const),
          validSeconds: lifetime(a.valid_life_time),
          preferredSeconds: lifetime(a.preferred_life_time),
        },
      }))
      .filter(({ raw }) => raw.dynamic === true || raw.noprefixroute === true)
      .map(({ k }) => k);

  return specs.map((s) => {
    const dump = dumps.get(s.ifname) ?? {};
    const prefixes = dump.v6?.delegatedPrefixes.map((p) => p.prefix) ?? [];
    const status: DhcpLeaseStatus = {
      ifname: s.ifname,
      running,
      addresses: addressesOf(s.ifname),
      assigned: (s.prefixDelegation?.assign ?? []).map((a) => ({
        ifname: a.ifname,
        subnetId: a.subnetId,
        addresses: addressesOf(a.ifname).filter((k) => k.family === 6 && prefixes.some((p) => inPrefix6(k.cidr, p))),
      })),
    };
    if (dump.v4) status.v4 = dump.v4;
    if (dump.v6) status.v6 = dump.v6;
    return status;
  });
}

/** Whether the address of cidr lies inside prefix (both IPv6, "addr/len"). */
export function inPrefix6(cidr: string, prefix: string): boolean {
  const [addr] = cidr.split("/");
  const [net, lenText] = prefix.split("/");
  const a = ipv6ToBigInt(addr ?? ""), n = ipv6ToBigInt(net ?? ""), len = Number(lenText);
  if (a === undefined || n === undefined || !Number.isInteger(len) || len < 0 || len > 128) return false;
  const shift = BigInt(128 - len);
  return a >> shift === n >> shift;
}

export function ipv6ToBigInt(text: string): bigint | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (s: string) => (s === "" ? [] : s.split(":"));
  const head = parse(halves[0]!), tail = halves.length === 2 ? parse(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  let value = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    value = (value << 16n) | BigInt(parseInt(g, 16));
  }
  return value;
}

const words = (v: string | undefined) => (v ? v.split(/\s+/).filter(Boolean) : []);
const num = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);
const lifetime = (v: number | undefined) => (v === undefined || v === FOREVER ? null : v);
