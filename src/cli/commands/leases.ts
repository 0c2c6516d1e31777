// `fos1 leases`: who the router's DHCP server gave an address, from dnsmasq's lease file in the
// state dir, each lease placed on the interface whose network holds its address.
import type { Command } from "../command";
import { printResult, table } from "../output";
import { stateDirOf, stateDirOption } from "../state-dir";
import { observeLinks } from "../../engine/host-reader";
import { parseLeases, placeLeases, type Lease } from "../../engine/lan/leases";
import { readLeasesText } from "../../engine/lan/lease-file";

export const leases: Command = {
  name: "leases",
  summary: "the DHCP leases the router handed out: address, MAC (or DUID), host name, interface, expiry",
  usage: "fos1 leases [--state-dir DIR] [-o json]",
  printsState: true,
  options: stateDirOption,
  async run(ctx) {
    const list = await readLeases(stateDirOf(ctx));
    printResult(ctx, { leases: list }, () =>
      list.length
        ? table(
            ["INTERFACE", "ADDRESS", "MAC / DUID", "HOSTNAME", "EXPIRES"],
            list.map((l) => [l.interface ?? "-", l.address, l.client, l.hostname ?? "-", l.expires ?? "never"]),
          )
        : "No leases: no DHCPServer has handed out an address on this host.\n",
    );
    return 0;
  },
};

/** The leases of the state dir's dnsmasq, placed on the host's interfaces (none when it never ran). */
export async function readLeases(stateDir: string): Promise<Lease[]> {
  const text = readLeasesText(stateDir);
  if (!text) return [];
  const links = await observeLinks().catch(() => []);
  const placed = placeLeases(parseLeases(text), links.map((l) => ({ name: l.name, cidrs: l.addresses.map((a) => a.cidr) })));
  return placed.sort((a, b) => (a.interface ?? "").localeCompare(b.interface ?? "") || a.family - b.family || a.address.localeCompare(b.address, "en", { numeric: true }));
}
