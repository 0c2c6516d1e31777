// Builds packets byte by byte for BPF_PROG_TEST_RUN: Ethernet with 802.1Q/802.1ad tags, IPv4
// (options, fragments), IPv6 with extension headers (hop-by-hop, routing, fragment,
// destination options, AH), TCP, UDP, ICMP and ICMPv6 -- with the IPv4 header checksum and
// the transport checksums (pseudo-header included) right, as a real sender would send them.
// Every builder also reports where the headers end, so tests can cut frames exactly there.
import { parseIp } from "../../src/api/ip";

export const ETH_P = { IPV4: 0x0800, IPV6: 0x86dd, ARP: 0x0806, VLAN: 0x8100, QINQ: 0x88a8 } as const;
export const PROTO = { HOPOPTS: 0, ICMP: 1, TCP: 6, UDP: 17, ROUTING: 43, FRAGMENT: 44, AH: 51, ICMPV6: 58, NONE: 59, DSTOPTS: 60 } as const;

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** RFC 1071 one's-complement sum over the bytes, folded and inverted. */
export function inetChecksum(...parts: Uint8Array[]): number {
  const b = concat(...parts);
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function addr(text: string): Uint8Array {
  const ip = parseIp(text);
  if (!ip) throw new Error(`bad address ${text}`);
  const n = ip.family === 4 ? 4 : 16;
  return Uint8Array.from({ length: n }, (_, i) => Number((ip.addr >> BigInt(8 * (n - 1 - i))) & 0xffn));
}

const be16 = (n: number) => Uint8Array.of((n >> 8) & 0xff, n & 0xff);
const be32 = (n: number) => Uint8Array.of((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);

// ---------------------------------------------------------------------------------------------
// Transport headers: the checksum is filled in by ipv4()/ipv6(), which know the pseudo-header.

export interface Transport {
  proto: number;
  /** Header and payload. */
  bytes: Uint8Array;
  /** Length of the fixed header fos1's program needs (TCP 20, UDP 8, ICMP 8, ICMPv6 4). */
  headerLen: number;
  /** Offset of the checksum field, or -1. */
  checksumAt: number;
  /** ICMP (v4) sums the message alone; the others include the IP pseudo-header. */
  pseudoHeader: boolean;
}

export function tcp(sport: number, dport: number, payload = new Uint8Array(0), opts: { dataOffset?: number } = {}): Transport {
  const h = new Uint8Array(20);
  h.set(be16(sport), 0);
  h.set(be16(dport), 2);
  h.set(be32(1), 4); // sequence
  h[12] = (opts.dataOffset ?? 5) << 4;
  h[13] = 0x02; // SYN
  h.set(be16(64240), 14); // window
  return { proto: PROTO.TCP, bytes: concat(h, payload), headerLen: 20, checksumAt: 16, pseudoHeader: true };
}

export function udp(sport: number, dport: number, payload = new Uint8Array(4)): Transport {
  const h = new Uint8Array(8);
  h.set(be16(sport), 0);
  h.set(be16(dport), 2);
  h.set(be16(8 + payload.length), 4);
  return { proto: PROTO.UDP, bytes: concat(h, payload), headerLen: 8, checksumAt: 6, pseudoHeader: true };
}

/** An ICMP echo request (type 8) unless told otherwise. */
export function icmp(type = 8, code = 0, payload = new Uint8Array(8)): Transport {
  const h = Uint8Array.of(type, code, 0, 0, 0, 1, 0, 1); // id 1, sequence 1
  return { proto: PROTO.ICMP, bytes: concat(h, payload), headerLen: 8, checksumAt: 2, pseudoHeader: false };
}

/** An ICMPv6 echo request (type 128) unless told otherwise. */
export function icmpv6(type = 128, code = 0, payload = new Uint8Array(8)): Transport {
  const h = Uint8Array.of(type, code, 0, 0, 0, 1, 0, 1);
  return { proto: PROTO.ICMPV6, bytes: concat(h, payload), headerLen: 4, checksumAt: 2, pseudoHeader: true };
}

/** Bytes after an IP header that are not a transport fos1 parses (or a non-first fragment). */
export function raw(proto: number, bytes: Uint8Array): Transport {
  return { proto, bytes, headerLen: 0, checksumAt: -1, pseudoHeader: false };
}

function withChecksum(t: Transport, pseudo: Uint8Array): Uint8Array {
  if (t.checksumAt < 0) return t.bytes;
  const b = t.bytes.slice();
  b[t.checksumAt] = 0;
  b[t.checksumAt + 1] = 0;
  const sum = t.pseudoHeader ? inetChecksum(pseudo, b) : inetChecksum(b);
  // UDP sends a computed 0 as 0xffff (0 means "no checksum")
  b.set(be16(sum === 0 && t.proto === PROTO.UDP ? 0xffff : sum), t.checksumAt);
  return b;
}

// ---------------------------------------------------------------------------------------------
// IP

export interface IpPacket {
  bytes: Uint8Array;
  /** Where the IP header ends (IPv4 options, IPv6 fixed header). */
  ipHeaderLen: number;
  /** Where the transport header starts (after options or extension headers). */
  l4Offset: number;
  /** Length of the transport's fixed header (0 when none is parsed). */
  l4HeaderLen: number;
  /** The transport protocol number. */
  l4Proto: number;
}

export interface Ipv4Options {
  /** Option bytes (padded with EOL to a multiple of 4). */
  options?: Uint8Array;
  /** Fragment offset in 8-byte units. */
  fragOffset?: number;
  moreFragments?: boolean;
  ttl?: number;
  /** Overrides for malformed packets. */
  version?: number;
  ihl?: number;
  totalLength?: number;
}

export function ipv4(src: string, dst: string, t: Transport, o: Ipv4Options = {}): IpPacket {
  const opts = o.options ?? new Uint8Array(0);
  const padded = new Uint8Array(Math.ceil(opts.length / 4) * 4);
  padded.set(opts);
  const hlen = 20 + padded.length;
  const s = addr(src);
  const d = addr(dst);
  const l4 = withChecksum(t, concat(s, d, Uint8Array.of(0, t.proto), be16(t.bytes.length)));
  const h = new Uint8Array(hlen);
  h[0] = ((o.version ?? 4) << 4) | (o.ihl ?? hlen / 4);
  h.set(be16(o.totalLength ?? hlen + l4.length), 2);
  h.set(be16(0x1234), 4); // identification
  h.set(be16(((o.moreFragments ? 1 : 0) << 13) | (o.fragOffset ?? 0)), 6);
  h[8] = o.ttl ?? 64;
  h[9] = t.proto;
  h.set(s, 12);
  h.set(d, 16);
  h.set(padded, 20);
  h.set(be16(inetChecksum(h)), 10);
  return { bytes: concat(h, l4), ipHeaderLen: hlen, l4Offset: hlen, l4HeaderLen: t.headerLen, l4Proto: t.proto };
}

/** An IPv6 extension header. */
export type Ext6 =
  | { type: "hopopts" | "dstopts" | "routing"; /** total length in 8-byte units (default 1) */ units?: number }
  | { type: "fragment"; offset: number; more: boolean }
  | { type: "ah" };

const EXT_PROTO = { hopopts: PROTO.HOPOPTS, dstopts: PROTO.DSTOPTS, routing: PROTO.ROUTING, fragment: PROTO.FRAGMENT, ah: PROTO.AH } as const;

function extBytes(e: Ext6, next: number): Uint8Array {
  switch (e.type) {
    case "fragment": {
      const b = new Uint8Array(8);
      b[0] = next;
      b.set(be16((e.offset << 3) | (e.more ? 1 : 0)), 2);
      b.set(be32(0xabcd), 4);
      return b;
    }
    case "ah": {
      // next, payload length (4-byte units - 2), reserved, SPI, sequence, 12-byte ICV: 24 bytes
      const b = new Uint8Array(24);
      b[0] = next;
      b[1] = 24 / 4 - 2;
      b.set(be32(0x100), 4);
      b.set(be32(1), 8);
      return b;
    }
    case "routing": {
      // type 4 (segment routing) with segments left 0: a header a router passes on
      const units = e.units ?? 1;
      const b = new Uint8Array(units * 8);
      b[0] = next;
      b[1] = units - 1;
      b[2] = 4;
      return b;
    }
    default: {
      const units = e.units ?? 1;
      const b = new Uint8Array(units * 8);
      b[0] = next;
      b[1] = units - 1;
      // one PadN option covering the rest
      b[2] = 1;
      b[3] = units * 8 - 4;
      return b;
    }
  }
}

export interface Ipv6Options {
  ext?: Ext6[];
  hopLimit?: number;
  version?: number;
  payloadLength?: number;
}

export function ipv6(src: string, dst: string, t: Transport, o: Ipv6Options = {}): IpPacket {
  const s = addr(src);
  const d = addr(dst);
  const ext = o.ext ?? [];
  const l4 = withChecksum(t, concat(s, d, be32(t.bytes.length), Uint8Array.of(0, 0, 0, t.proto)));
  const exts = ext.map((e, i) => extBytes(e, i + 1 < ext.length ? EXT_PROTO[ext[i + 1]!.type] : t.proto));
  const extLen = exts.reduce((n, b) => n + b.length, 0);
  const h = new Uint8Array(40);
  h[0] = (o.version ?? 6) << 4;
  h.set(be16(o.payloadLength ?? extLen + l4.length), 4);
  h[6] = ext.length ? EXT_PROTO[ext[0]!.type] : t.proto;
  h[7] = o.hopLimit ?? 64;
  h.set(s, 8);
  h.set(d, 24);
  return { bytes: concat(h, ...exts, l4), ipHeaderLen: 40, l4Offset: 40 + extLen, l4HeaderLen: t.headerLen, l4Proto: t.proto };
}

// ---------------------------------------------------------------------------------------------
// Ethernet

export interface Vlan {
  tpid: typeof ETH_P.VLAN | typeof ETH_P.QINQ;
  vid: number;
}

export interface Frame {
  bytes: Uint8Array;
  /** Where the L3 header starts (after the VLAN tags). */
  l3Offset: number;
  /** Where the IP header ends, the transport starts, and its fixed header ends (frame offsets). */
  ipHeaderEnd: number;
  l4Offset: number;
  l4HeaderEnd: number;
  /** The transport protocol number, -1 for non-IP frames. */
  l4Proto: number;
}

export const SRC_MAC = Uint8Array.of(0x02, 0, 0, 0, 0, 1);
export const DST_MAC = Uint8Array.of(0x02, 0, 0, 0, 0, 2);

/** A frame around an IP packet (ethertype from its version) or raw bytes with the given type. */
export function ethernet(payload: IpPacket | { ethertype: number; bytes: Uint8Array }, vlans: Vlan[] = []): Frame {
  const ethertype = "ethertype" in payload ? payload.ethertype : payload.bytes[0]! >> 4 === 6 ? ETH_P.IPV6 : ETH_P.IPV4;
  // each tag: TCI (priority 0, VLAN id), then the type of what follows (the next tag's TPID)
  const tags = vlans.map((v, i) => concat(be16(v.vid & 0xfff), be16(i + 1 < vlans.length ? vlans[i + 1]!.tpid : ethertype)));
  const first = vlans.length ? vlans[0]!.tpid : ethertype;
  const l3 = 14 + 4 * vlans.length;
  const ip = "ethertype" in payload ? null : payload;
  return {
    bytes: concat(DST_MAC, SRC_MAC, be16(first), ...tags, payload.bytes),
    l3Offset: l3,
    ipHeaderEnd: l3 + (ip?.ipHeaderLen ?? 0),
    l4Offset: l3 + (ip?.l4Offset ?? 0),
    l4HeaderEnd: l3 + (ip ? ip.l4Offset + ip.l4HeaderLen : 0),
    l4Proto: ip?.l4Proto ?? -1,
  };
}

/** An ARP request (who-has dst tell src), for the non-IP path. */
export function arp(src: string, dst: string): Frame {
  const b = concat(be16(1), be16(ETH_P.IPV4), Uint8Array.of(6, 4), be16(1), SRC_MAC, addr(src), new Uint8Array(6), addr(dst));
  return ethernet({ ethertype: ETH_P.ARP, bytes: b });
}

/** The frame padded with zeros to the Ethernet minimum of 60 bytes (no FCS), as NICs deliver it. */
export function padded(f: Frame, to = 60): Frame {
  if (f.bytes.length >= to) return f;
  const b = new Uint8Array(to);
  b.set(f.bytes);
  return { ...f, bytes: b };
}
