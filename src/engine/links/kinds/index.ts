// Every link kind fos1 manages. A new kind is a file in this folder and a line here.
import type { LinkKind } from "../../model";
import { bond } from "./bond";
import { bridge } from "./bridge";
import type { LinkKindDriver } from "./kind";
import { physical } from "./physical";
import { vlan } from "./vlan";
import { vrf } from "./vrf";

export const LINK_KINDS: Record<LinkKind, LinkKindDriver> = { physical, bond, vlan, bridge, vrf };

/** The driver of a kernel link kind fos1 manages, or undefined (veth, loopback, …). */
export const driverOf = (kind: string): LinkKindDriver | undefined => (Object.hasOwn(LINK_KINDS, kind) ? LINK_KINDS[kind as LinkKind] : undefined);

/** fos1 creates (and deletes) links of this kind. */
export const isCreatedKind = (kind: string) => driverOf(kind)?.created === true;
