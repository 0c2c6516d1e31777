// `fos1 status` for a person at a terminal: one screen (80 columns, 24 lines) with the config
// in force, each interface's state, zone, traffic and first address, the top talkers beside the
// drops by reason, the XDP blocks, and the last changes. Interfaces get the lines the other
// sections leave; what does not fit is counted and `fos1 status --details` or -o json has it.
import { ROUTER_KINDS } from "../../agent/router-metrics/link-counters";
import type { HostStatus, InterfaceStatus } from "./host-status";
import { changesText } from "../commands/history";
import { table } from "../output";

export const SCREEN = { columns: 80, lines: 24 };
const SIDE_ROWS = 4;
const CHANGES = 3;
const LABEL = "changes  ";

/** 1234 → "1.2 k"; SI steps of 1000, as network rates are counted. */
function si(n: number, unit: string): string {
  const steps = ["", "k", "M", "G", "T"];
  let i = 0;
  while (n >= 1000 && i < steps.length - 1) [n, i] = [n / 1000, i + 1];
  return `${i === 0 ? Math.round(n) : n < 10 ? n.toFixed(1) : Math.round(n)} ${steps[i]}${unit}`;
}

export const bitRate = (bps: number | null) => (bps === null ? "-" : si(bps, "b/s"));
export const byteCount = (n: number | null) => (n === null ? "-" : si(n, "B"));

/** "12s ago", "3m ago", "5h ago", "2d ago". */
export function ago(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

const fit = (text: string, width: number) => (text.length <= width ? text : text.slice(0, width - 1) + "…");

/** Rows of a table, each cut to the screen's width. */
const rowsOf = (headers: string[], rows: string[][]) =>
  table(headers, rows)
    .trimEnd()
    .split("\n")
    .map((l) => fit(l, SCREEN.columns));

/** fos1's links first, then the router's other NICs, bonds, VLANs, bridges and VRFs, then the rest; loopback never. */
function ordered(interfaces: InterfaceStatus[]): InterfaceStatus[] {
  const rank = (i: InterfaceStatus) => (i.managed ? 0 : ROUTER_KINDS.has(i.kind) ? 1 : 2);
  return interfaces.filter((i) => i.kind !== "loopback").sort((a, b) => rank(a) - rank(b));
}

function interfaceLines(s: HostStatus, room: number): string[] {
  const all = ordered(s.interfaces);
  // The header takes a line; so does "… N more" when not all fit.
  const shown = all.length <= room - 1 ? all : all.slice(0, Math.max(1, room - 2));
  const rows = shown.map((i) => [
    i.name,
    i.adminUp ? (i.state === "UNKNOWN" ? "UP?" : i.state) : "DOWN",
    i.zone ?? "-",
    bitRate(i.rxBitsPerSecond),
    bitRate(i.txBitsPerSecond),
    i.addresses.filter((a) => !a.startsWith("fe80:")).map((a, n, list) => (n === 0 ? a + (list.length > 1 ? ` +${list.length - 1}` : "") : "")).join("") || "-",
  ]);
  const lines = rowsOf(["INTERFACE", "STATE", "ZONE", "RX", "TX", "ADDRESS"], rows);
  if (shown.length < all.length) lines.push(`… ${all.length - shown.length} more (fos1 status --details)`);
  return lines;
}

/** Top talkers on the left, drops by reason on the right. */
function sideBySide(s: HostStatus): string[] {
  const talkers = rowsOf(["TOP TALKERS", "CONNS", "BYTES"], s.topTalkers.slice(0, SIDE_ROWS).map((t) => [fit(t.address, 20), String(t.connections), byteCount(t.bytes)]));
  const left = Math.max(24, ...talkers.map((l) => l.length));
  const shown = s.drops.slice(0, SIDE_ROWS);
  const packetsWidth = Math.max("PACKETS".length, ...shown.map((d) => String(d.packets).length));
  const label = (d: HostStatus["drops"][number]) => (d.source === "xdp" ? `xdp ${d.where} ${d.reason}` : `fw ${d.where}${d.reason === "reject" ? " (reject)" : ""}`);
  const drops = rowsOf(["DROPS", "PACKETS"], shown.map((d) => [fit(label(d), SCREEN.columns - left - 3 - packetsWidth - 2), String(d.packets)]));
  if (!s.topTalkers.length) talkers.push(s.conntrack ? "(no tracked connections)" : "(conntrack not readable)");
  if (!s.drops.length) drops.push("(nothing dropped)");
  const n = Math.max(talkers.length, drops.length);
  return Array.from({ length: n }, (_, i) => fit(`${fit(talkers[i] ?? "", left).padEnd(left)} │ ${drops[i] ?? ""}`.trimEnd(), SCREEN.columns));
}

export function summaryText(s: HostStatus, now = Date.now()): string {
  const cfg = s.config.lastKnownGood;
  const head = [
    fit(`${s.hostname} (Linux ${s.kernel}) · ${s.firewall ? `firewall ${s.firewall.rules} rules` : "no firewall"} · conntrack ${s.conntrack ? `${s.conntrack.entries}/${s.conntrack.limit}` : "-"}`, SCREEN.columns),
    fit(`config   ${cfg ? `${cfg.digest.slice(7, 19)} applied ${ago(cfg.startedAt, now)} by ${cfg.source}` : "none applied yet"}`, SCREEN.columns),
    ...(s.config.pending ? [fit(`pending  ${s.config.pending.digest.slice(7, 19)}: ${s.config.pending.awaitingConfirmation ? `waiting for fos1 confirm until ${s.config.pending.confirmBy}` : s.config.pending.failedAt ? "did not converge" : "interrupted"}`, SCREEN.columns)] : []),
    fit(`zones    ${s.zones.map((z) => `${z.name}: ${z.interfaces.join(" ")}`).join(" · ") || "none"}`, SCREEN.columns),
  ];
  const dynamic = s.blocks.dynamic.slice().sort((a, b) => Number(b.packets) - Number(a.packets));
  const blocks = fit(
    `blocks   ${s.blocks.static} static, ${dynamic.length} dynamic${dynamic.length ? ": " + dynamic.map((d) => `${d.prefix}${d.expires ? ` until ${d.expires.slice(11, 16)}` : ""} (${d.packets} dropped)`).join(", ") : ""}`,
    SCREEN.columns,
  );
  const lan = s.lan.length ? [fit(`leases   ${s.lan.map((l) => `${l.interface} ${l.leases}${l.poolAddresses ? `/${l.poolAddresses}` : ""}`).join(" · ")}`, SCREEN.columns)] : [];
  const changes = s.lastChanges.length
    ? s.lastChanges.slice(0, CHANGES).map((h) => fit(`#${h.number} ${ago(h.finishedAt, now)} ${h.outcome}: ${changesText(h)}, by ${h.source}`, SCREEN.columns - LABEL.length))
    : ["no change recorded yet"];
  const tail = [
    "",
    ...sideBySide(s),
    blocks,
    ...lan,
    ...changes.map((c, i) => (i === 0 ? LABEL : " ".repeat(LABEL.length)) + c),
    ...(s.problems.length ? [fit(`could not read: ${s.problems.map((p) => `${p.source} (${p.error})`).join("; ")}`, SCREEN.columns)] : []),
  ];
  const room = SCREEN.lines - head.length - 1 - tail.length;
  return [...head, "", ...interfaceLines(s, room), ...tail].join("\n") + "\n";
}
