// Config objects → desired host state, compiled once per apply into the models every
// reconciler reads, over one index of the objects' references. Runs on a config that passed
// validation, so every reference resolves; what is left open needs the host (NICs matched by
// MAC: names.ts).
import type { LoadedObject } from "../api/load";
import type { ConfigObject } from "../api/kinds";
import { NetworkIndex } from "../api/network-index";
import { desiredFirewall } from "../policy/model";
import { desiredXdp } from "./xdp/model";
import { desiredDhcp } from "./dhcp/desired";
import { desireContext, desiredLinks } from "./links/desired";
import { desiredRoutes } from "./routes";
import { desiredRules } from "./rules";
import { ROUTER_SYSCTLS, type DesiredState } from "./model";
import { desiredLan } from "./lan/desired";

export function desiredState(objects: LoadedObject<ConfigObject>[]): DesiredState {
  const idx = new NetworkIndex(objects);
  const ctx = desireContext(idx);
  return {
    sysctls: { ...ROUTER_SYSCTLS },
    firewall: desiredFirewall(objects, idx),
    links: desiredLinks(ctx),
    routes: desiredRoutes(ctx),
    rules: desiredRules(ctx),
    dhcp: desiredDhcp(ctx),
    xdp: desiredXdp(objects, idx),
    lan: desiredLan(objects, ctx),
  };
}
