import { hostname, release } from "node:os";
import type { Command } from "../command";
import { printResult, table } from "../output";
import { observeLinks } from "../../host/observe";
import type { ObservedLink } from "../../host/model";

// Until the configuration engine exists (issue 3) status shows what the kernel has and says
// plainly that no fos1 config is applied; later issues add config, firewall, XDP and flows.
const CONFIG_NOT_YET = "none: the configuration engine (validate/plan/apply) is not implemented yet";

export const status: Command = {
  name: "status",
  summary: "show the router's interfaces, addresses and what fos1 has applied",
  usage: "fos1 status [-o json]",
  printsState: true,
  async run(ctx) {
    const interfaces = await observeLinks();
    const data = { hostname: hostname(), kernel: release(), config: { applied: false, note: CONFIG_NOT_YET }, interfaces };
    printResult(ctx, data, () =>
      `host     ${data.hostname} (Linux ${data.kernel})\nconfig   ${CONFIG_NOT_YET}\n\n` +
      table(["INTERFACE", "KIND", "STATE", "MAC", "MTU", "ADDRESSES"], interfaces.map(row)),
    );
    return 0;
  },
};

function row(l: ObservedLink): string[] {
  const state = l.adminUp ? l.state : "DOWN (admin)";
  return [l.name, l.kind, state, l.mac ?? "-", String(l.mtu), l.addresses.map((a) => a.cidr).join(" ") || "-"];
}
