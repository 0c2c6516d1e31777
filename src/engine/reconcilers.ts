// Every resource the engine reconciles, in the order the host is built up (the remove phase
// tears down in the reverse order). A new resource is a module implementing Reconciler and a
// line here.
import type { Reconciler } from "./reconciler";
import { sysctls } from "./sysctls";
import { links } from "./links/reconciler";
import { addresses } from "./addresses";
import { routes } from "./routes";
import { rules } from "./rules";
import { firewall } from "./firewall/reconciler";
import { xdp } from "./xdp/reconciler";
import { dhcp } from "./dhcp/reconciler";
import { lan } from "./lan/reconciler";

// Each reconciler is typed by its own desired, observed and change types; the orchestrator
// passes each only what it asked for, so it holds them at their most general.
export const RECONCILERS = [sysctls, links, addresses, routes, rules, firewall, xdp, dhcp, lan] as unknown as Reconciler[];
