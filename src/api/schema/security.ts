// security.fos1.io/v1alpha1: zones, firewall rules and inter-VLAN policy; and the NAT kind of
// network.fos1.io. Enforced by the host's nftables (src/engine/firewall), later also rendered
// for Cilium (pod traffic).
import { Type, type Static } from "@sinclair/typebox";
import { Cidr, InterfaceRef, IpAddress, KindSchema, NodeSelector, ObjectName, StringEnum } from "./common";
import { NETWORK_GROUP } from "./network";

export const SECURITY_GROUP = "security.fos1.io";

export const POLICIES = ["accept", "drop", "reject"] as const;
export const PROTOCOLS = ["tcp", "udp", "icmp", "icmpv6", "any"] as const;

/** A port or an inclusive range "8000-8100". */
export const Port = Type.Union([Type.Integer({ minimum: 1, maximum: 65535 }), Type.String({ pattern: "^[0-9]{1,5}-[0-9]{1,5}$" })], {
  description: "a port (1 to 65535) or a range like 8000-8100",
});

export const FirewallZoneSpec = Type.Object(
  {
    interfaces: Type.Optional(Type.Array(InterfaceRef(), { description: "NetworkInterface names (or devices) in this zone" })),
    interfaceSelector: Type.Optional(
      Type.Object({ matchLabels: Type.Record(Type.String(), Type.String()) }, { additionalProperties: false, description: "NetworkInterfaces whose metadata.labels match" }),
    ),
    input: Type.Optional(StringEnum(POLICIES, { description: "traffic from this zone to the router itself when no rule matches (default drop)" })),
    forward: Type.Optional(StringEnum(POLICIES, { description: "traffic from this zone to other zones when no rule matches (default drop)" })),
    management: Type.Optional(Type.Boolean({ description: "the operator manages the box from here: its management ports are always open" })),
    cluster: Type.Optional(
      Type.Object(
        {
          podCIDRs: Type.Array(Cidr, { minItems: 1, description: "the cluster's pod subnets (Talos cluster.network.podSubnets)" }),
          serviceCIDRs: Type.Optional(Type.Array(Cidr, { minItems: 1, description: "the cluster's service subnets (Talos cluster.network.serviceSubnets)" })),
          nodes: Type.Optional(Type.Array(Cidr, { minItems: 1, description: "where the cluster's other nodes are: the ports nodes use between them open only from these" })),
          tunnel: Type.Optional(StringEnum(["vxlan", "geneve", "none"] as const, { description: "Cilium's tunnel between nodes (default vxlan, Cilium's own default)" })),
        },
        {
          additionalProperties: false,
          description:
            "the zone of the Kubernetes cluster on the router: Cilium's devices (cilium_*, lxc*) and the pods behind them; input and forward default to accept, leaving the policy for these flows to Cilium's host firewall",
        },
      ),
    ),
  },
  { additionalProperties: false },
);

export const FirewallRuleSpec = Type.Object(
  {
    fromZone: ObjectName("the zone traffic comes from"),
    toZone: ObjectName("the zone traffic goes to, or host for the router itself"),
    protocol: Type.Optional(StringEnum(PROTOCOLS, { description: "default any" })),
    ports: Type.Optional(Type.Array(Port, { minItems: 1, description: "destination ports (tcp/udp only)" })),
    sources: Type.Optional(Type.Array(Cidr, { minItems: 1 })),
    destinations: Type.Optional(Type.Array(Cidr, { minItems: 1 })),
    action: StringEnum(["allow", "deny", "reject"] as const),
    log: Type.Optional(Type.Boolean({ description: "log matching packets with a prefix naming the rule" })),
    rateLimit: Type.Optional(
      Type.Object(
        {
          rate: Type.Integer({ minimum: 1, description: "packets per unit" }),
          per: Type.Optional(StringEnum(["second", "minute", "hour"] as const)),
          burst: Type.Optional(Type.Integer({ minimum: 1 })),
        },
        { additionalProperties: false, description: "the rule matches only up to this rate; packets above it fall through to later rules" },
      ),
    ),
    priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, description: "lower runs first (default 1000); ties keep file order" })),
  },
  { additionalProperties: false },
);

export const VLANPolicySpec = Type.Object(
  {
    fromVLAN: Type.Integer({ minimum: 1, maximum: 4094 }),
    toVLAN: Type.Integer({ minimum: 1, maximum: 4094 }),
    allowAll: Type.Optional(Type.Boolean({ description: "allow everything from fromVLAN to toVLAN (default false)" })),
    rules: Type.Optional(
      Type.Array(
        Type.Object(
          {
            protocol: StringEnum(PROTOCOLS),
            port: Type.Optional(Port),
            allow: Type.Boolean(),
          },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { additionalProperties: false },
);

const PortForward = Type.Object(
  {
    protocol: StringEnum(["tcp", "udp"] as const),
    port: Port,
    to: IpAddress,
    toPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: "default: the same port (the start of a range maps range to range)" })),
    hairpin: Type.Optional(Type.Boolean({ description: "LAN clients may use the public address too (default true)" })),
  },
  { additionalProperties: false },
);

export const NATPolicySpec = Type.Object(
  {
    type: StringEnum(["masquerade", "snat", "dnat", "nptv6"] as const),
    interface: InterfaceRef("the WAN side: out-interface for masquerade/snat/nptv6, in-interface for dnat"),
    sources: Type.Optional(Type.Array(Cidr, { minItems: 1, description: "masquerade/snat: source networks translated" })),
    toAddress: Type.Optional(IpAddress),
    ipv6: Type.Optional(Type.Boolean({ description: "masquerade: NAT66 (IPv6) instead of IPv4" })),
    internalPrefix: Type.Optional(Cidr),
    externalPrefix: Type.Optional(Cidr),
    externalAddress: Type.Optional(IpAddress),
    forwards: Type.Optional(Type.Array(PortForward, { minItems: 1 })),
    nodeSelector: NodeSelector,
  },
  { additionalProperties: false },
);

// Mirrors what bpf/xdp_filter.h can express: prefix blocklists per family (any length), one token bucket per
// source prefix (xdpf_config), and TCP/UDP destination ports (xdpf_port_deny).
export const XDP_MODES = ["native", "generic", "auto"] as const;
/** XDPF_CAPACITY_DEFAULT and _MAX of bpf/xdp_filter.h (test/unit/xdp-layout.test.ts holds them equal). */
export const XDP_CAPACITY_DEFAULT = 65536;
export const XDP_CAPACITY_MAX = 16777216;
/** XDPF_RATE_DEFAULT: sources a rate limit tracks unless the filter says. */
export const XDP_RATE_SOURCES_DEFAULT = 65536;

const XdpCapacity = (family: string) =>
  Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: XDP_CAPACITY_MAX,
      description: `${family} prefixes the filter holds: its blocklist and dynamic blocks (fos1 xdp block, the IDS) together (default ${XDP_CAPACITY_DEFAULT})`,
    }),
  );

export const XDPFilterSpec = Type.Object(
  {
    interfaces: Type.Array(InterfaceRef("a NetworkInterface (a bond, a NIC) or the device of a declared physical one; a bond passes its program to its members"), {
      minItems: 1,
    }),
    blocklist: Type.Optional(Type.Array(Cidr, { description: "source networks (IPv4 or IPv6, no host bits) whose packets are dropped" })),
    rateLimit: Type.Optional(
      Type.Object(
        {
          packetsPerSecond: Type.Integer({ minimum: 1, maximum: 1_000_000_000, description: "average packets per second per source prefix" }),
          burst: Type.Integer({ minimum: 1, maximum: 1_000_000_000, description: "packets a source may send at once (bucket size)" }),
          v4PrefixLength: Type.Optional(Type.Integer({ minimum: 0, maximum: 32, description: "IPv4 sources sharing one bucket (default 32)" })),
          v6PrefixLength: Type.Optional(Type.Integer({ minimum: 0, maximum: 128, description: "IPv6 sources sharing one bucket (default 64)" })),
          trackedSources: Type.Optional(
            Type.Integer({
              minimum: 16,
              maximum: XDP_CAPACITY_MAX,
              description: `source prefixes with a bucket at once (default ${XDP_RATE_SOURCES_DEFAULT}); the least recently seen gives its bucket up to a new one`,
            }),
          ),
        },
        { additionalProperties: false, description: "per-source token bucket; packets above it are dropped" },
      ),
    ),
    denyPorts: Type.Optional(
      Type.Array(
        Type.Object({ protocol: StringEnum(["tcp", "udp"] as const), port: Type.Integer({ minimum: 1, maximum: 65535 }) }, { additionalProperties: false }),
        { description: "TCP/UDP destination ports whose packets are dropped" },
      ),
    ),
    mode: Type.Optional(StringEnum(XDP_MODES, { description: "native (driver), generic (skb), or auto: native, else generic (default auto)" })),
    capacity: Type.Optional(
      Type.Object(
        { ipv4: XdpCapacity("IPv4"), ipv6: XdpCapacity("IPv6") },
        { additionalProperties: false, description: "how many prefixes each family's list holds; kernel memory: about 80 bytes per prefix held, plus 48 bytes (IPv4: hash buckets and pages) or 40 (IPv6) per unit of capacity" },
      ),
    ),
    nodeSelector: NodeSelector,
  },
  { additionalProperties: false },
);

export const FirewallZone = KindSchema(SECURITY_GROUP, "FirewallZone", FirewallZoneSpec);
export const FirewallRule = KindSchema(SECURITY_GROUP, "FirewallRule", FirewallRuleSpec);
export const VLANPolicy = KindSchema(SECURITY_GROUP, "VLANPolicy", VLANPolicySpec);
export const NATPolicy = KindSchema(NETWORK_GROUP, "NATPolicy", NATPolicySpec);

export const XDPFilter = KindSchema(SECURITY_GROUP, "XDPFilter", XDPFilterSpec);
export type XDPFilterT = Static<typeof XDPFilter>;
export type FirewallZoneT = Static<typeof FirewallZone>;
export type FirewallRuleT = Static<typeof FirewallRule>;
export type VLANPolicyT = Static<typeof VLANPolicy>;
export type NATPolicyT = Static<typeof NATPolicy>;
