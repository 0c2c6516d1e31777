import type { Command } from "../command";
import { printResult, table } from "../output";
import { hostStatus, type HostStatus, type InterfaceStatus } from "../status/host-status";
import { describeRoute } from "../../engine/routes";
import { describeRule } from "../../engine/rules";
import { DEFAULT_STATE_DIR } from "../../base/state-dir";
import { summaryText } from "../status/summary";

export const status: Command = {
  name: "status",
  summary: "one screen: interfaces with traffic rates and zones, top talkers, drops by reason, XDP blocks, last changes; --details: every link with addresses, bonds, VLANs, VRFs, fos1's routes and rules",
  usage: "fos1 status [--details] [--state-dir DIR] [-o json]   (rates are measured over about a second)",
  printsState: true,
  options: { "state-dir": { type: "string" }, details: { type: "boolean" } },
  async run(ctx) {
    const s = await hostStatus(String(ctx.values["state-dir"] ?? DEFAULT_STATE_DIR));
    printResult(ctx, s, () => (ctx.values.details ? detailsText(s) : summaryText(s)));
    return 0;
  },
};

function detailsText(s: HostStatus): string {
  const cfg = s.config.lastKnownGood;
  const lines = [
    `host     ${s.hostname} (Linux ${s.kernel})`,
    `config   ${cfg ? `${cfg.digest.slice(0, 19)}… applied ${cfg.startedAt} by ${cfg.source}` : "none applied yet"}`,
    ...(s.config.pending ? [`pending  ${s.config.pending.digest.slice(0, 19)}… since ${s.config.pending.startedAt}: ${pendingState(s.config.pending)} (${s.config.pending.source})`] : []),
    `firewall ${s.firewall ? `table inet fos1: ${s.firewall.rules} rules in ${s.firewall.chains} chains (${s.firewall.digest?.slice(0, 19) ?? "no digest"}…)` : "none (no zones or NAT configured)"}`,
    "",
  ];
  const rows = s.interfaces.map((i) => [
    i.name,
    i.kind,
    i.adminUp ? i.state : "DOWN (admin)",
    i.speedMbps ? `${i.speedMbps}M` : "-",
    String(i.mtu),
    i.addresses.join(" ") || "-",
    detail(i),
    i.managed ? "fos1" : "-",
  ]);
  let out = lines.join("\n") + "\n" + table(["INTERFACE", "KIND", "STATE", "SPEED", "MTU", "ADDRESSES", "DETAIL", "OWNER"], rows);
  if (s.routes.length) out += "\nfos1 routes:\n" + s.routes.map((r) => `  ${describeRoute(r)}`).join("\n") + "\n";
  if (s.rules.length) out += "\nfos1 rules:\n" + s.rules.map((r) => `  ${describeRule(r)}`).join("\n") + "\n";
  return out;
}

function pendingState(p: NonNullable<HostStatus["config"]["pending"]>): string {
  if (p.awaitingConfirmation) return `applied, waiting for fos1 confirm until ${p.confirmBy}`;
  return p.failedAt ? "did not converge" : "interrupted";
}

function detail(i: InterfaceStatus): string {
  if (i.bond) {
    const members = i.bond.members.map((m) => `${m.name} ${m.state ?? "?"}${m.mii && m.mii !== "UP" ? ` (link ${m.mii.toLowerCase()})` : ""}${m.aggregatorId !== undefined ? ` agg ${m.aggregatorId}` : ""}`);
    return `${i.bond.mode}${i.bond.lacpRate ? ` lacp ${i.bond.lacpRate}` : ""}: ${members.join(", ") || "no members"}`;
  }
  if (i.vlan) return `VLAN ${i.vlan.id} on ${i.vlan.parent}${i.master ? `, in ${i.master}` : ""}`;
  if (i.vrfTable !== undefined) return `VRF table ${i.vrfTable}`;
  if (i.master) return `member of ${i.master}`;
  return "";
}
