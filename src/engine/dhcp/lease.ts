// Reading what dhcpcd obtained: its lease files (the server's last DHCPv4 ACK and DHCPv6
// REPLY, stored as the raw messages) and the kernel's addresses (`ip -json addr`). Pure
// functions; the supervisor reads the files and runs ip.
//
// Why the files and not `dhcpcd --dumplease`: in 9.4.1 the dump over the control socket fails
// without privilege separation (the client reads EOF: "dhcpcd_readdump1: Invalid argument"),
// and the dump of a lease file prints nothing when no hook script is configured.
import type { ClasslessRoute, DelegatedPrefix, DhcpClientSpec, DhcpLeaseStatus, KernelAddress, LeaseV4, LeaseV6 } from "./spec";

export interface LeaseDump {
  v4?: LeaseV4;
  v6?: LeaseV6;
}

/** A DHCPv4 lease file: a BOOTP message (RFC 2131) with its options. Lifetimes as granted. */
export function parseLease4(msg: Uint8Array): LeaseV4 | undefined {
  const MAGIC = 0x63825363;
  if (msg.length < 240 || readU32(msg, 236) !== MAGIC) return undefined;
  const yiaddr = ipv4(msg, 16);
  if (yiaddr === "0.0.0.0") return undefined;
  const opts = new Map<number, Uint8Array>();
  for (let i = 240; i < msg.length; ) {
    const code = msg[i]!;
    if (code === 255) break;
    if (code === 0) {
      i++;
      continue;
    }
    const len = msg[i + 1];
    if (len === undefined || i + 2 + len > msg.length) break;
    if (!opts.has(code)) opts.set(code, msg.subarray(i + 2, i + 2 + len));
    i += 2 + len;
  }
  const mask = opts.get(1);
  const prefixLength = mask?.length === 4 ? [...mask].reduce((n, b) => n + popcount(b), 0) : 32;
  const addresses = (code: number) => {
    const o = opts.get(code);
    return o ? Array.from({ length: Math.floor(o.length / 4) }, (_, k) => ipv4(o, k * 4)) : [];
  };
  const lease: LeaseV4 = { address: `${yiaddr}/${prefixLength}`, dnsServers: addresses(6) };
  const gateway = addresses(3)[0];
  if (gateway) lease.gateway = gateway;
  const server = addresses(54)[0];
  if (server) lease.server = server;
  const csr = opts.get(121);
  if (csr) lease.classlessRoutes = decodeClasslessRoutes(csr);
  const time = opts.get(51);
  if (time?.length === 4) lease.leaseSeconds = readU32(time, 0);
  return lease;
}

/** A DHCPv6 lease file: the server's REPLY (RFC 8415), IA_NA and IA_PD with their options. */
export function parseLease6(msg: Uint8Array): LeaseV6 | undefined {
  if (msg.length < 4) return undefined;
  const lease: LeaseV6 = { addresses: [], delegatedPrefixes: [], dnsServers: [] };
  for (const [code, body] of options6(msg.subarray(4))) {
    if (code === 23) for (let k = 0; k + 16 <= body.length; k += 16) lease.dnsServers.push(ipv6(body, k));
    if ((code !== 3 && code !== 25) || body.length < 12) continue;
    for (const [sub, data] of options6(body.subarray(12))) {
      if (code === 3 && sub === 5 && data.length >= 24 && readU32(data, 20) > 0) lease.addresses.push(`${ipv6(data, 0)}/128`);
      if (code === 25 && sub === 26 && data.length >= 25 && readU32(data, 4) > 0) {
        const p: DelegatedPrefix = { prefix: `${ipv6(data, 9)}/${data[8]}`, validSeconds: readU32(data, 4), preferredSeconds: readU32(data, 0) };
        lease.delegatedPrefixes.push(p);
      }
    }
  }
  return lease.addresses.length || lease.delegatedPrefixes.length ? lease : undefined;
}

/**
 * Option 121's routes (RFC 3442): each is a prefix length, the significant octets of the
 * destination, and a gateway. A malformed option yields the routes before the fault, as the
 * RFC asks a client to treat what it cannot parse: not at all past that point.
 */
export function decodeClasslessRoutes(body: Uint8Array): ClasslessRoute[] {
  const routes: ClasslessRoute[] = [];
  for (let i = 0; i < body.length; ) {
    const len = body[i]!;
    const octets = Math.ceil(len / 8);
    if (len > 32 || i + 1 + octets + 4 > body.length) break;
    const dst = new Uint8Array(4);
    dst.set(body.subarray(i + 1, i + 1 + octets));
    routes.push({ dst: `${ipv4(dst, 0)}/${len}`, gateway: ipv4(body, i + 1 + octets) });
    i += 1 + octets + 4;
  }
  return routes;
}

function* options6(buf: Uint8Array): Generator<[number, Uint8Array]> {
  for (let i = 0; i + 4 <= buf.length; ) {
    const code = (buf[i]! << 8) | buf[i + 1]!;
    const len = (buf[i + 2]! << 8) | buf[i + 3]!;
    if (i + 4 + len > buf.length) return;
    yield [code, buf.subarray(i + 4, i + 4 + len)];
    i += 4 + len;
  }
}

const readU32 = (b: Uint8Array, at: number) => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
const ipv4 = (b: Uint8Array, at: number) => [...b.subarray(at, at + 4)].join(".");
const popcount = (b: number) => b.toString(2).replaceAll("0", "").length;

/** Canonical text (RFC 5952) of 16 bytes. */
function ipv6(b: Uint8Array, at: number): string {
  const groups = Array.from({ length: 8 }, (_, k) => ((b[at + 2 * k]! << 8) | b[at + 2 * k + 1]!).toString(16));
  let best = -1, bestLen = 1;
  for (let k = 0; k < 8; ) {
    if (groups[k] !== "0") {
      k++;
      continue;
    }
    let end = k;
    while (end < 8 && groups[end] === "0") end++;
    if (end - k > bestLen) [best, bestLen] = [k, end - k];
    k = end;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
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

const lifetime = (v: number | undefined) => (v === undefined || v === FOREVER ? null : v);
