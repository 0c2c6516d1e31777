// network.fos1.io/v1alpha1, the services the router gives its LANs: a DHCP server per served
// interface (DHCPv4, and stateful DHCPv6 when asked), router advertisements per interface, and
// one DNS resolver for the zones it serves. The one source for the types, validation and CRDs.
import { Type, type Static } from "@sinclair/typebox";
import { InterfaceRef, IpAddress, KindSchema, Mac, NodeSelector, ObjectName, StringEnum } from "./common";
import { NETWORK_GROUP } from "./network";

/** "12h", "30m", "90s", "2d" or plain seconds. */
export const Duration = (description: string) => Type.String({ pattern: "^[0-9]+[smhd]?$", description });

/** A host name as DHCP clients and DNS take it: letters, digits and '-', up to 63 characters. */
const HostName = Type.String({ pattern: "^[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?$", description: "a host name: letters, digits and '-'" });

/** A DNS domain: labels of letters, digits and '-', separated by dots. */
export const DomainName = (description: string) =>
  Type.String({ pattern: "^([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?\\.)*[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?$", maxLength: 253, description });

const Pool = Type.Object(
  {
    start: IpAddress,
    end: IpAddress,
  },
  { additionalProperties: false, description: "the first and the last address handed out" },
);

/** IPv6 pools are interface identifiers: applied to every /64 the interface has (the delegated one included). */
const Pool6 = Type.Object(
  {
    start: Type.String({ pattern: "^::[0-9a-fA-F:]*$", description: "the first interface identifier, e.g. ::1000" }),
    end: Type.String({ pattern: "^::[0-9a-fA-F:]*$", description: "the last interface identifier, e.g. ::1fff" }),
  },
  { additionalProperties: false, description: "a range of interface identifiers, used in every /64 of the interface" },
);

export const DHCP_OPTION_NAMES = [
  "ntp-server",
  "time-offset",
  "log-server",
  "lpr-server",
  "netbios-ns",
  "netbios-dd",
  "netbios-nodetype",
  "netbios-scope",
  "mtu",
  "tftp-server",
  "bootfile-name",
  "sip-server",
  "classless-static-route",
  "domain-search",
  "T1",
  "T2",
  "vendor-encap",
] as const;

const StaticLease = Type.Object(
  {
    mac: Mac("the client's MAC address"),
    address: IpAddress,
    hostname: Type.Optional(HostName),
  },
  { additionalProperties: false },
);

export const DHCPServerSpec = Type.Object(
  {
    interface: InterfaceRef("the NetworkInterface served: its clients get addresses from its subnet"),
    pools: Type.Optional(Type.Array(Pool, { minItems: 1, description: "IPv4 address pools, inside the interface's subnet" })),
    leaseTime: Type.Optional(Duration("how long a lease lasts, at least 2m: 12h, 30m, 90s, 2d or plain seconds (default 12h)")),
    gateway: Type.Optional(IpAddress),
    dnsServers: Type.Optional(Type.Array(IpAddress, { description: "default: the router, when a DNSResolver serves the interface's zone" })),
    domain: Type.Optional(DomainName("the domain clients are told (default: the DNSResolver's local domain)")),
    staticLeases: Type.Optional(Type.Array(StaticLease, { description: "fixed addresses by MAC, with an optional host name" })),
    options: Type.Optional(
      Type.Array(
        Type.Object({ name: StringEnum(DHCP_OPTION_NAMES), value: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
        { description: "further DHCPv4 options by name" },
      ),
    ),
    v6: Type.Optional(
      Type.Object(
        {
          pools: Type.Array(Pool6, { minItems: 1, description: "stateful DHCPv6: interface identifiers handed out in every /64 of the interface" }),
          leaseTime: Type.Optional(Duration("how long a DHCPv6 lease lasts, at least 2m: 12h, 30m, 90s, 2d or plain seconds (default 12h)")),
        },
        { additionalProperties: false },
      ),
    ),
    nodeSelector: NodeSelector,
  },
  { additionalProperties: false },
);

export const RouterAdvertisementSpec = Type.Object(
  {
    interface: InterfaceRef("the NetworkInterface advertised on: its /64s, delegated ones included"),
    slaac: Type.Optional(Type.Boolean({ description: "clients make their own addresses from the prefixes (A flag; default true)" })),
    managed: Type.Optional(Type.Boolean({ description: "the M flag: addresses come from DHCPv6 (needs the interface's DHCPServer with v6)" })),
    otherConfig: Type.Optional(Type.Boolean({ description: "the O flag: other configuration from DHCPv6 (default true when DHCP serves the interface)" })),
    dnsServers: Type.Optional(Type.Array(IpAddress, { description: "RDNSS (default: the router, when a DNSResolver serves the interface's zone)" })),
    searchDomains: Type.Optional(Type.Array(DomainName("a search domain"), { description: "DNSSL (default: the DNSResolver's local domain)" })),
    mtu: Type.Optional(Type.Integer({ minimum: 1280, maximum: 65535 })),
    routerLifetime: Type.Optional(Type.Integer({ minimum: 0, maximum: 9000, description: "seconds clients use the router as default (0: not a default router; default 1800)" })),
    preference: Type.Optional(StringEnum(["low", "medium", "high"] as const, { description: "default router preference (default medium)" })),
    interval: Type.Optional(Type.Integer({ minimum: 4, maximum: 1800, description: "seconds between unsolicited advertisements (default 600)" })),
    nodeSelector: NodeSelector,
  },
  { additionalProperties: false },
);

const HostEntry = Type.Object(
  {
    name: DomainName("a name (a bare one gets the local domain)"),
    addresses: Type.Array(IpAddress, { minItems: 1 }),
  },
  { additionalProperties: false },
);

export const DNSResolverSpec = Type.Object(
  {
    zones: Type.Array(ObjectName("a FirewallZone whose hosts may query the router"), { minItems: 1, description: "the zones served: only their hosts may query" }),
    forwarders: Type.Optional(Type.Array(IpAddress, { description: "upstream resolvers (default: those the uplinks' DHCP leases name)" })),
    dnssec: Type.Optional(Type.Boolean({ description: "validate DNSSEC (default false)" })),
    localDomain: Type.Optional(DomainName("the domain of the LANs' names: from leases and hosts (default home.arpa)")),
    hosts: Type.Optional(Type.Array(HostEntry, { description: "static names" })),
    cacheSize: Type.Optional(Type.Integer({ minimum: 0, maximum: 100000, description: "cached answers (default 10000)" })),
    nodeSelector: NodeSelector,
  },
  { additionalProperties: false },
);

export const DHCPServer = KindSchema(NETWORK_GROUP, "DHCPServer", DHCPServerSpec);
export const RouterAdvertisement = KindSchema(NETWORK_GROUP, "RouterAdvertisement", RouterAdvertisementSpec);
export const DNSResolver = KindSchema(NETWORK_GROUP, "DNSResolver", DNSResolverSpec);

export type DHCPServerT = Static<typeof DHCPServer>;
export type RouterAdvertisementT = Static<typeof RouterAdvertisement>;
export type DNSResolverT = Static<typeof DNSResolver>;

/** The O flag's default: other configuration from DHCPv6 where a DHCPServer serves the interface too. */
export const raOtherConfig = (ra: RouterAdvertisementT["spec"], dhcpServes: boolean) => ra.otherConfig ?? dhcpServes;

/** The router answers DHCPv6 on the interface: its RA sends clients there for addresses (M) or other configuration (O). */
export const raUsesDhcpv6 = (ra: RouterAdvertisementT["spec"], dhcpServes: boolean) => (ra.managed ?? false) || raOtherConfig(ra, dhcpServes);
