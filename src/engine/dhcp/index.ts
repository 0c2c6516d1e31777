// The DHCP client of fos1's uplinks: dhcpcd, configured from the engine's specs and supervised.
export { iaidOf, renderDhcpcdConfig, type RenderOptions } from "./config";
export { buildStatus, inPrefix6, ipv6ToBigInt, parseLease4, parseLease6, type LeaseDump } from "./lease";
export type { DelegatedPrefix, DhcpClientSpec, DhcpLeaseStatus, KernelAddress, LeaseV4, LeaseV6, PdAssignment } from "./spec";
export { DhcpSupervisor, type DhcpSupervisorOptions } from "./supervisor";
