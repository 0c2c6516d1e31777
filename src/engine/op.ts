// What the engine does to the host, as plans show it and the journal records it. Every
// operation belongs to the reconciler that planned it (`resource`) and carries that
// reconciler's own typed change; the text a kernel tool reads (a line of `ip -batch`, nft's
// JSON) is rendered from it only when it is written (apply.ts).

/**
 * Phases run in this order, each as one process per tool (apply.ts):
 *   remove     owned rules, routes, addresses and links no longer wanted or to be re-created
 *              (children before parents), NICs released; torn down in the reverse order of
 *              the reconcilers that build them up
 *   sysctl     kernel settings (forwarding), written to /proc/sys
 *   links      create and adjust links in dependency order (VRFs and bonds before members,
 *              members down before they are enslaved, parents before VLANs)
 *   addresses, routes, rules
 *   firewall   fos1's nftables table, replaced whole in one `nft -j -f -` transaction
 *   xdp        XDP filters through libbpf: load, map entries, attach, detach
 *   dhcp       the DHCP client, under the agent's supervisor
 *   lan        the LAN services (DHCP server, RA, DNS), under the agent's supervisor
 */
// The firewall comes before any link is brought up or any DHCP client starts: nft takes
// interface names that do not exist yet, and a box is never open while its filter is missing.
export const PHASES = ["remove", "firewall", "sysctl", "links", "addresses", "routes", "rules", "xdp", "dhcp", "lan"] as const;
export type Phase = (typeof PHASES)[number];

export type Action = "add" | "change" | "remove" | "replace";

/** The reconcilers (reconcilers.ts lists them in the order they build the host up). */
export type Resource = "sysctls" | "links" | "addresses" | "routes" | "rules" | "firewall" | "xdp" | "dhcp" | "lan";

export interface Op<Change = unknown> {
  resource: Resource;
  phase: Phase;
  action: Action;
  /** The config object this serves ("NetworkInterface/lan1"), or GONE. */
  ref: string;
  /** What is touched, for people: "link bond0", "address 192.168.10.1/24 on lan1". */
  subject: string;
  /** Why, or what changes: "mtu 1500 → 9000". */
  detail?: string;
  /** The reconciler's own description of the change; rendered for the kernel only when written. */
  change: Change;
}

/** The ref of an operation on something no object asks for any more. */
export const GONE = "(no longer configured)";

/** Something configured that cannot be acted on now (a NIC that is not there); the rest applies. */
export interface Degraded {
  ref: string;
  subject: string;
  reason: string;
}

export interface Plan {
  ops: Op[];
  degraded: Degraded[];
}

export interface OpFailure {
  op: Op;
  error: string;
}

/** An operation's identity across plans: the same change of the same thing. */
export const opKey = (op: Op) => `${op.resource} ${JSON.stringify(op.change)}`;
