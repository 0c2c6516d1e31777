// `fos1 flows` output for people: one line per flow (scripts get the FlowSummary as JSON lines).
import type { FlowSummary, FlowEnd } from "./summary";

/**
 * 2025-03-14T09:26:54.000Z DROPPED    lan 192.168.10.23:40022 -> host 192.168.10.1:8080 tcp/8080 (http-alt) POLICY_DENIED by router-host-input
 */
export function flowLine(s: FlowSummary): string {
  const service = s.reply ? s.source.port : s.destination.port;
  const what = s.icmp
    ? `${s.protocol} type ${s.icmp.type}${s.icmp.code ? ` code ${s.icmp.code}` : ""}`
    : `${s.protocol}${service ? `/${service}` : ""}${s.application !== s.protocol && s.application !== "other" ? ` (${s.application})` : ""}`;
  const parts = [
    s.time.length > 23 ? `${s.time.slice(0, 23)}Z` : s.time,
    s.verdict.toUpperCase().padEnd(10),
    `${end(s.source)} -> ${end(s.destination)}`,
    what + (s.reply ? " reply" : ""),
  ];
  if (s.l7) parts.push(s.l7);
  if (s.dropReason) parts.push(s.dropReason + (s.policies?.length ? ` by ${s.policies.join(", ")}` : ""));
  return parts.join(" ");
}

function end(e: FlowEnd): string {
  const ip = e.ip?.includes(":") && e.port ? `[${e.ip}]` : e.ip;
  const address = ip ? `${ip}${e.port ? `:${e.port}` : ""}` : "?";
  return [e.zone, e.name, address].filter(Boolean).join(" ");
}
