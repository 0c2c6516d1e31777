// The uplinks' DHCP client on /metrics: the routes of option 121 fos1 installed and refused
// (src/engine/dhcp/static-routes.ts), per uplink, from the supervisor's last screening — no I/O
// at scrape time. A refused route also gets a warning in the log when it first appears.
import { Gauge, type Registry } from "prom-client";
import type { ScreenedRoutes } from "../../engine/dhcp";

export function registerDhcpClientMetrics(registry: Registry, screened: () => ReadonlyMap<string, ScreenedRoutes>): void {
  new Gauge({
    name: "fos1_dhcp_client_routes",
    help: "Routes of the DHCPv4 server's option 121 on an uplink with classlessStaticRoutes, by verdict: installed, or refused (they overlap a connected, LAN or management network; the log names them).",
    labelNames: ["interface", "verdict"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [ifname, s] of screened()) {
        this.set({ interface: ifname, verdict: "installed" }, s.accepted.length);
        this.set({ interface: ifname, verdict: "refused" }, s.refused.length);
      }
    },
  });
}
