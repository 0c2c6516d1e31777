// The contract of a link kind, after systemd-networkd's per-kind netdev tables: everything
// fos1 knows about one kind of link — how its object becomes a desired link, how the kernel's
// `ip -details` output becomes an observed one, how it is created, what can be changed in
// place and what forces a new link — is one file in this folder, filling this table.
import type { InterfaceInfo, NetworkIndex } from "../../../api/network-index";
import type { DesiredLink, LinkKind, ObservedLink } from "../../model";

export interface DesireContext {
  idx: NetworkIndex;
  /** Kernel name of an interface ("mac:…" until plan settles a NIC matched by MAC). */
  ifname(i: InterfaceInfo): string;
  /** Kernel name of the interface a reference names. */
  refName(ref: string): string;
}

/** One setting of an existing link, as `ip link set dev NAME …` changes it. */
export type LinkSetting =
  | { up: boolean }
  | { mtu: number }
  | { alias: string }
  | { master: string | null }
  /** The kind's own parameters: `type bond lacp_rate fast`. */
  | { type: LinkKind; params: [string, string | number][] };

/** A change of an existing link's settings, with what people are told about it. */
export interface Adjustment {
  detail: string;
  set: LinkSetting;
}

/** What the kernel does to the members of a master of this kind. */
export interface MasterBehaviour {
  /** A member must be down while it is enslaved. */
  joinDown: boolean;
  /** The kernel takes a member down when it leaves, or when the master is deleted. */
  leaveDown: boolean;
  /** A member's MTU follows the master's: setting it on the member is not fos1's to do. */
  memberMtu: boolean;
}

export interface LinkKindDriver {
  readonly kind: LinkKind;
  /** fos1 creates and deletes links of this kind; a physical NIC is only adopted. */
  readonly created: boolean;
  readonly master?: MasterBehaviour;
  /** Fills the kind's part of a desired link from its NetworkInterface; returns links it implies (a VLAN's parent named only by device). */
  desire?(link: DesiredLink, from: InterfaceInfo, ctx: DesireContext): DesiredLink[] | void;
  /** Links of this kind that objects other than NetworkInterfaces declare (VRF objects). */
  declared?(ctx: DesireContext): DesiredLink[];
  /** Fills the kind's part of an observed link from `ip -json -details`: its linkinfo data, and the device it sits on (ip's "link"). */
  observe?(link: ObservedLink, data: Record<string, unknown>, lower: string | undefined): void;
  /** As the master of a member: the member's part (its state in a bond) from its linkinfo slave data. */
  observeMember?(link: ObservedLink, master: string, data: Record<string, unknown>): void;
  /** The link with the kind's own references to other links (a VLAN's parent, a bond's primary) given their kernel names. */
  rename?(link: DesiredLink, name: (n: string) => string): DesiredLink;
  /** The link this one rides on: created before it and deleted after it (a VLAN's parent). */
  parent?(link: DesiredLink | ObservedLink): string | undefined;
  /** What follows `type KIND` in `ip link add`: " id 10 protocol 802.1Q". */
  create?(link: DesiredLink): string;
  /** A new link of this kind in a plan: "VLAN 10 on eth1". */
  describe(link: DesiredLink): string;
  /** What of the kernel's link cannot change in place: the reason it is deleted and created again. */
  replaceReason?(want: DesiredLink, have: ObservedLink): string | undefined;
  /** The kind's own settings that differ on an existing link. */
  adjust?(want: DesiredLink, have: ObservedLink): Adjustment[];
  /** Settings that need the members in place (a bond's primary), run after every link is. */
  settle?(want: DesiredLink, have: ObservedLink | undefined, present: (name: string) => boolean): Adjustment[];
}
