// The DHCP client of fos1's uplinks: dhcpcd, configured from the engine's specs and supervised.
export { iaidOf, renderDhcpcdConfig, type RenderOptions } from "./config";
export { buildStatus, decodeClasslessRoutes, inPrefix6, ipv6ToBigInt, parseLease4, parseLease6, type LeaseDump } from "./lease";
export type { ClasslessRoute, DelegatedPrefix, DhcpClientSpec, DhcpLeaseStatus, KernelAddress, LeaseV4, LeaseV6, PdAssignment, ScreenedRoutes } from "./spec";
export { boundingSetProblem, DHCPCD_CAPABILITIES, DHCPCD_CAPABILITY_MASK, DHCPCD_USER, dhcpcdLauncher } from "./privileges";
export { classlessRouteBatch, connectedNetworks, FOS1_DHCP_ROUTE_PROTO, screenClasslessRoutes } from "./static-routes";
export { DhcpSupervisor, type DhcpSupervisorOptions } from "./supervisor";
