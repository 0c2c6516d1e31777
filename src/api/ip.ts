// IPv4/IPv6 addresses and prefixes as numbers, for validation (overlaps, containment) and for
// comparing the config with what the kernel reports (which prints addresses canonically).

export type Family = 4 | 6;

export interface Prefix {
  family: Family;
  /** The address as written (host bits kept: "192.168.1.1/24" is an interface address). */
  addr: bigint;
  len: number;
}

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function parseIp(text: string): { family: Family; addr: bigint } | null {
  const m = V4.exec(text);
  if (m) {
    let n = 0;
    for (let i = 1; i <= 4; i++) {
      const part = Number(m[i]);
      if (part > 255) return null;
      n = n * 256 + part;
    }
    // Numbers first and one BigInt at the end: a large ruleset parses thousands of these.
    return { family: 4, addr: BigInt(n) };
  }
  return parseIpv6(text);
}

function parseIpv6(text: string): { family: Family; addr: bigint } | null {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.length > 45) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    const parts = s.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIp(p);
        if (!v4 || v4.family !== 4) return null;
        out.push(Number(v4.addr >> 16n), Number(v4.addr & 0xffffn));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) out.push(parseInt(p, 16));
      else return null;
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...head, ...Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  return { family: 6, addr: BigInt("0x" + all.map((g) => g.toString(16).padStart(4, "0")).join("")) };
}

export function parsePrefix(text: string): Prefix | null {
  const slash = text.indexOf("/");
  if (slash < 0) return null;
  const ip = parseIp(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(lenText)) return null;
  const len = Number(lenText);
  if (len > bits(ip.family)) return null;
  return { family: ip.family, addr: ip.addr, len };
}

export const bits = (f: Family) => (f === 4 ? 32 : 128);

function mask(family: Family, len: number): bigint {
  const b = BigInt(bits(family));
  return ((1n << b) - 1n) ^ ((1n << (b - BigInt(len))) - 1n);
}

/** The network of a prefix: host bits cleared. */
export function network(p: Prefix): Prefix {
  return { ...p, addr: p.addr & mask(p.family, p.len) };
}

export function hasHostBits(p: Prefix): boolean {
  return network(p).addr !== p.addr;
}

export function contains(net: Prefix, addr: { family: Family; addr: bigint }): boolean {
  return net.family === addr.family && (addr.addr & mask(net.family, net.len)) === network(net).addr;
}

export function overlaps(a: Prefix, b: Prefix): boolean {
  if (a.family !== b.family) return false;
  const len = Math.min(a.len, b.len);
  const m = mask(a.family, len);
  return (a.addr & m) === (b.addr & m);
}

export function formatIp(family: Family, addr: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((addr >> s) & 255n)).join(".");
  const groups = Array.from({ length: 8 }, (_, i) => Number((addr >> BigInt(112 - 16 * i)) & 0xffffn));
  // RFC 5952: compress the longest run of two or more zero groups, the first if tied.
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

/** The kernel's spelling of a prefix (canonical address text), so config and observation compare. */
export function formatPrefix(p: Prefix): string {
  return `${formatIp(p.family, p.addr)}/${p.len}`;
}

export function canonicalPrefix(text: string): string | null {
  const p = parsePrefix(text);
  return p ? formatPrefix(p) : null;
}

export function canonicalIp(text: string): string | null {
  const ip = parseIp(text);
  return ip ? formatIp(ip.family, ip.addr) : null;
}
