// One line of Suricata's EVE JSON log (eve.json, or its unix socket output) → an alert fos1 may
// act on, another event (flow, dns, http, stats, …: not fos1's business), or a malformed line
// with the reason. Pure; never throws.
//
// What fos1 reads of an alert (Suricata 6–8):
//   event_type "alert"; src_ip; alert.severity (1 is the highest; the rule's priority, 1–255,
//   usually its classtype's 1–4); alert.signature_id; alert.signature;
//   alert.source.ip when present — a rule with the `target` keyword says which end is the
//   attacker, and that may be dest_ip; without it the packet's source is taken;
//   proto, app_proto, tcp.state and flow.state — the alert's category (category.ts), which says
//   whether its source address could have been forged.
// Suricata writes IPv6 addresses either compressed or as eight full groups; both are accepted
// and turned into one canonical spelling, so one source is one block.
import { formatIp, parseIp, type Family } from "../api/ip";
import { alertCategory, type AlertCategory } from "./category";

export const MALFORMED_REASONS = ["overlong", "json", "not_object", "no_event_type", "bad_alert"] as const;
export type MalformedReason = (typeof MALFORMED_REASONS)[number];

export interface EveAlert {
  /** The attacker's address, canonical ("2001:db8::17", never "2001:0db8:0000:…"). */
  sourceIp: string;
  family: Family;
  addr: bigint;
  severity: number;
  signatureId: number;
  signature: string;
  category: AlertCategory;
}

export type EveRecord =
  | { kind: "alert"; alert: EveAlert }
  | { kind: "event"; type: string }
  | { kind: "malformed"; reason: MalformedReason; detail: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const malformed = (reason: MalformedReason, detail: string): EveRecord => ({ kind: "malformed", reason, detail });

export function parseEveLine(line: string): EveRecord {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return malformed("json", (err as Error).message);
  }
  if (!isObject(value)) return malformed("not_object", `a JSON ${value === null ? "null" : Array.isArray(value) ? "array" : typeof value}, not an EVE record (an object)`);
  const type = value.event_type;
  if (typeof type !== "string" || !type) return malformed("no_event_type", "no event_type");
  if (type !== "alert") return { kind: "event", type };
  const alert = value.alert;
  if (!isObject(alert)) return malformed("bad_alert", "an alert without its alert object");
  const { severity, signature_id: sid } = alert;
  if (typeof severity !== "number" || !Number.isInteger(severity) || severity < 1 || severity > 255)
    return malformed("bad_alert", `alert.severity ${JSON.stringify(severity)} is not a priority 1–255`);
  if (typeof sid !== "number" || !Number.isInteger(sid) || sid < 0) return malformed("bad_alert", `alert.signature_id ${JSON.stringify(sid)} is not a rule id`);
  const attacker = isObject(alert.source) && alert.source.ip !== undefined ? { field: "alert.source.ip", text: alert.source.ip } : { field: "src_ip", text: value.src_ip };
  const ip = typeof attacker.text === "string" ? parseIp(attacker.text) : null;
  if (!ip) return malformed("bad_alert", `${attacker.field} ${JSON.stringify(attacker.text)} is not an IP address`);
  return {
    kind: "alert",
    alert: {
      sourceIp: formatIp(ip.family, ip.addr),
      family: ip.family,
      addr: ip.addr,
      severity,
      signatureId: sid,
      signature: typeof alert.signature === "string" ? alert.signature : "",
      category: alertCategory(value),
    },
  };
}
