// What the configuration engine asks of the DHCP client, one entry per uplink. The engine's
// DesiredDhcp (src/engine/model.ts) has this shape, so its list can be passed as it is.

export interface PdAssignment {
  /** Kernel name of the LAN interface that gets a /64 of the delegated prefix. */
  ifname: string;
  /** Which /64: added to the delegated prefix (dhcpcd's sla_id); the LAN address is <that /64>::1. */
  subnetId: number;
}

export interface DhcpClientSpec {
  /** Kernel name of the uplink, e.g. "eth0" or "bond0". */
  ifname: string;
  v4: boolean;
  v6: boolean;
  prefixDelegation?: {
    /** Prefix length asked of the server (a hint: the server decides). */
    hintLength?: number;
    assign: PdAssignment[];
  };
  /**
   * IAID for DHCPv4's client id and the DHCPv6 IA_NA/IA_PD. Default: derived from ifname, so it
   * stays the same across reboots and NIC swaps and the ISP hands back the same lease and prefix.
   */
  iaid?: number;
  /** Metric of the routes dhcpcd installs (default: dhcpcd's own, 1000 + ifindex). */
  routeMetric?: number;
  /**
   * Install the server's classless static routes (option 121), each one that overlaps a
   * connected network or one of protectedNetworks refused. Default false: no routes from the
   * server but the default route.
   */
  classlessStaticRoutes?: boolean;
  /** The LAN and management networks (IPv4 CIDRs) no route from the server may cover, beside the connected ones. */
  protectedNetworks?: string[];
  /** Who asked (e.g. "NetworkInterface/wan"), named in error messages. */
  ref?: string;
}

/** What dhcpcd obtained for one uplink, and what it installed, as fos1 status shows it. */
export interface DhcpLeaseStatus {
  ifname: string;
  /** The dhcpcd manager process runs (it serves every uplink of the spec). */
  running: boolean;
  /** From dhcpcd's DHCPv4 lease, when it has one. */
  v4?: LeaseV4;
  /** From dhcpcd's DHCPv6 lease, when it has one. */
  v6?: LeaseV6;
  /** Global addresses dhcpcd (or SLAAC) put on the uplink, as the kernel shows them. */
  addresses: KernelAddress[];
  /** Per prefix-delegation target: its addresses inside this uplink's delegated prefixes. */
  assigned: { ifname: string; subnetId: number; addresses: KernelAddress[] }[];
  /** With classlessStaticRoutes: what fos1 installed of the lease's option 121, and what it refused. */
  classlessRoutes?: ScreenedRoutes;
}

/** A route of option 121: gateway "0.0.0.0" means on the uplink's link, with no gateway. */
export interface ClasslessRoute {
  dst: string;
  gateway: string;
}

export interface ScreenedRoutes {
  accepted: ClasslessRoute[];
  /** Each refused route with the networks it overlaps. */
  refused: (ClasslessRoute & { overlaps: string[] })[];
}

export interface LeaseV4 {
  /** Address with prefix length, e.g. "198.51.100.23/24". */
  address: string;
  /** Option 121 as the server sent it (RFC 3442), whether or not any is installed. */
  classlessRoutes?: ClasslessRoute[];
  gateway?: string;
  dnsServers: string[];
  server?: string;
  leaseSeconds?: number;
}

export interface LeaseV6 {
  /** IA_NA addresses, as "2001:db8::100/128". */
  addresses: string[];
  delegatedPrefixes: DelegatedPrefix[];
  dnsServers: string[];
}

export interface DelegatedPrefix {
  /** e.g. "2001:db8:100::/56" */
  prefix: string;
  validSeconds?: number;
  preferredSeconds?: number;
}

export interface KernelAddress {
  cidr: string;
  family: 4 | 6;
  /** Seconds left; null means forever. */
  validSeconds: number | null;
  preferredSeconds: number | null;
}
