// What kind of traffic an alert was raised on, and so whether its source address can be forged.
//
// An alert's source is only worth blocking when the packet could not have been sent with
// someone else's address in it. Anyone can put any source address in a UDP datagram, an ICMP
// message or a lone TCP segment (a SYN, a RST): blocking on those lets an attacker block the
// router's gateway, its DNS resolver or the operator by forging alerts "from" them. A TCP flow
// that completed its handshake is different: the source had to receive the SYN-ACK to answer it,
// so it owns the address (or sits on the path, where blocking is fair).
//
// Suricata says a TCP flow saw its handshake in any of these fields of an EVE alert:
//   - app_proto: set once the application layer was detected, which the stream engine only
//     does on data after the handshake ("failed" and "unknown" say nothing more than that the
//     stream carried data, and are not trusted);
//   - tcp.state (with eve-log's tcp metadata): established, or one of the closing states that
//     only follow it;
//   - flow.state "established" (a TCP flow is established by the stream engine on the handshake).
// Anything else on TCP is "tcp" (no handshake seen), and UDP, ICMP and the rest are their own.
// This rests on Suricata's stream defaults: with stream.midstream or stream.async-oneside on, it
// takes up flows whose handshake it never saw, and one forged segment with data looks established.
export const ALERT_CATEGORIES = ["tcp-established", "tcp", "udp", "icmp", "other"] as const;
export type AlertCategory = (typeof ALERT_CATEGORIES)[number];

/** The categories that block by default: those whose source cannot be spoofed. */
export const DEFAULT_BLOCK_ON: readonly AlertCategory[] = ["tcp-established"];

const AFTER_HANDSHAKE = new Set(["established", "fin_wait1", "fin_wait2", "closing", "time_wait", "close_wait", "last_ack"]);
const UNTRUSTED_APP_PROTO = new Set(["", "failed", "unknown"]);

const field = (v: unknown, key: string): unknown => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)[key] : undefined);

/** The category of an EVE alert record (the whole line's object). */
export function alertCategory(record: Record<string, unknown>): AlertCategory {
  const proto = typeof record.proto === "string" ? record.proto.toUpperCase() : "";
  if (proto === "UDP") return "udp";
  if (proto === "ICMP" || proto === "IPV6-ICMP" || proto === "ICMPV6") return "icmp";
  if (proto !== "TCP") return "other";
  const app = record.app_proto;
  if (typeof app === "string" && !UNTRUSTED_APP_PROTO.has(app)) return "tcp-established";
  const tcpState = field(record.tcp, "state");
  if (typeof tcpState === "string" && AFTER_HANDSHAKE.has(tcpState)) return "tcp-established";
  if (field(record.flow, "state") === "established") return "tcp-established";
  return "tcp";
}

/** `--block-on` (comma-separated categories); throws naming what is allowed. */
export function parseBlockOn(text: string): AlertCategory[] {
  const names = text.split(",").map((s) => s.trim());
  const wrong = names.find((n) => !(ALERT_CATEGORIES as readonly string[]).includes(n));
  if (wrong !== undefined || !names.length)
    throw new Error(`--block-on "${text}": "${wrong ?? ""}" is not an alert category; give a comma-separated list of ${ALERT_CATEGORIES.join(", ")}`);
  return [...new Set(names as AlertCategory[])];
}
