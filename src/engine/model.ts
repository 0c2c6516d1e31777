// The host's networking as fos1 models it. Desired state (from the config) and observed state
// (from the kernel) are different types, as in Talos's network controllers: observation has
// facts the config never states (ifindex, oper state, dynamic addresses), and the desired
// state has intent the kernel never reports (which object asked for what).
import type { Family } from "../api/ip";
import type { DesiredFirewall } from "../policy/model";
import type { ObservedFirewall } from "./firewall/observe";
import type { DesiredXdp, ObservedXdp } from "./xdp/model";
import type { DhcpClientSpec } from "./dhcp/spec";
import type { DesiredLan } from "./lan/model";
import type { BondParams, BondMember, ObservedBond } from "./links/kinds/bond";
import type { VlanParams } from "./links/kinds/vlan";
import type { BridgeParams } from "./links/kinds/bridge";
import type { VrfParams } from "./links/kinds/vrf";

/** Route and rule protocol number that marks fos1's own routes and rules (see ip-route(8) "proto"). */
export const FOS1_PROTO = 241;
/**
 * Links fos1 creates are put in this link group by the same netlink message that creates
 * them (the kernel ignores an alias on creation), so a crash can never leave one unmarked.
 */
export const FOS1_GROUP = 241;
/** Links fos1 created or adopted carry an alias naming the object: "fos1:<name>". */
export const ALIAS_PREFIX = "fos1:";

export type LinkKind = "physical" | "bond" | "vlan" | "bridge" | "vrf";

export interface DesiredLink {
  /** The object that asked for it, "NetworkInterface/lan1". */
  ref: string;
  /** Kernel name; for a NIC matched by MAC it is settled against the host by plan. */
  name: string;
  kind: LinkKind;
  matchMac?: string;
  /** A VLAN parent named only by `device`: fos1 keeps it up and owns nothing else of it. */
  implicit?: boolean;
  bond?: BondParams;
  vlan?: VlanParams;
  bridge?: BridgeParams;
  vrf?: VrfParams;
  master?: string;
  mtu?: number;
  up: boolean;
  /** Canonical CIDRs (kernel spelling). */
  addresses: string[];
}

export interface RouteKey {
  family: Family;
  /** Canonical prefix, "0.0.0.0/0" for default. */
  dst: string;
  table: number;
  metric: number;
}

export interface RouteEntry extends RouteKey {
  type: "unicast" | "blackhole" | "unreachable" | "prohibit";
  gateway?: string;
  dev?: string;
}

export interface DesiredRoute extends RouteEntry {
  ref: string;
}

export interface RuleEntry {
  family: Family;
  priority: number;
  from?: string;
  to?: string;
  iif?: string;
  oif?: string;
  fwmark?: number;
  fwmask?: number;
  table: number;
}

export interface DesiredRule extends RuleEntry {
  ref: string;
}

/** An uplink that runs the DHCP client: what the DHCP supervisor runs dhcpcd with. */
export type DesiredDhcp = DhcpClientSpec & { ref: string };

/**
 * Kernel settings a router needs, as /proc/sys paths. Forwarding is what makes the box a
 * router; without it packets between its networks are dropped.
 */
export const ROUTER_SYSCTLS: Record<string, string> = {
  "net/ipv4/ip_forward": "1",
  "net/ipv6/conf/all/forwarding": "1",
  // Removing an interface's first IPv4 address must not take the others of its subnet with it.
  "net/ipv4/conf/all/promote_secondaries": "1",
};

export interface DesiredState {
  sysctls: Record<string, string>;
  firewall: DesiredFirewall;
  links: DesiredLink[];
  routes: DesiredRoute[];
  rules: DesiredRule[];
  dhcp: DesiredDhcp[];
  /** XDP filters; absent means none (states built by hand in tests). */
  xdp?: DesiredXdp;
  /** The LAN services (DHCP server, router advertisements, DNS); absent means none. */
  lan?: DesiredLan;
}

export interface ObservedAddress {
  family: Family;
  cidr: string;
  scope: string;
  /** Put there by the DHCP client or SLAAC, not by fos1's config (finite lifetime, or dhcpcd's noprefixroute). */
  dynamic: boolean;
}

export interface ObservedLink {
  name: string;
  index: number;
  /** The kernel's linkinfo kind ("bond", "vlan", "veth", …) or "physical" when it reports none. */
  kind: string;
  state: string;
  adminUp: boolean;
  mac: string | null;
  mtu: number;
  alias: string | null;
  /** Link group number (0 is "default"). */
  group: number;
  master: string | null;
  bond?: ObservedBond;
  vlan?: VlanParams;
  bridge?: BridgeParams;
  vrf?: VrfParams;
  /** As a bond member: its state (ACTIVE/BACKUP), MII status and 802.3ad aggregator. */
  member?: BondMember;
  addresses: ObservedAddress[];
}

export interface ObservedState {
  /** Current values of the sysctls the desired state names. */
  sysctls: Record<string, string>;
  /** fos1's nftables table as read back; null when there is none. */
  firewall: ObservedFirewall | null;
  links: ObservedLink[];
  /** Only fos1's own (proto FOS1_PROTO) routes and rules: the rest is not ours to read or touch. */
  routes: RouteEntry[];
  rules: RuleEntry[];
  /** fos1's XDP filters and what interfaces run; absent when there is none and none is configured. */
  xdp?: ObservedXdp;
  /** What the DHCP supervisor runs; absent when none takes part (only the agent runs one). */
  dhcp?: DhcpClientSpec[];
  /** What the LAN services' supervisor serves; absent when none takes part (only the agent runs one). */
  lan?: DesiredLan;
}

export const isOwned = (l: ObservedLink) => l.group === FOS1_GROUP || (l.alias?.startsWith(ALIAS_PREFIX) ?? false);
export const aliasFor = (ref: string) => ALIAS_PREFIX + ref.slice(ref.indexOf("/") + 1);
