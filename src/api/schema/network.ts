// network.fos1.io/v1alpha1: links, VRFs, routes and routing policy. The one source for the
// TypeScript types, config validation and the CRDs.
import { Type, type Static } from "@sinclair/typebox";
import { Cidr, IfName, InterfaceRef, IpAddress, KindSchema, Mac, NodeSelector, ObjectName, StringEnum } from "./common";

export const NETWORK_GROUP = "network.fos1.io";

export const BOND_MODES = ["balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"] as const;
export const XMIT_HASH_POLICIES = ["layer2", "layer2+3", "layer3+4", "encap2+3", "encap3+4", "vlan+srcmac"] as const;
export const INTERFACE_TYPES = ["physical", "bond", "vlan", "bridge"] as const;

const Vlan = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ description: "false keeps the block but does not create the VLAN" })),
    id: Type.Integer({ minimum: 1, maximum: 4094, description: "802.1Q VLAN id" }),
    parent: Type.Optional(InterfaceRef("the NetworkInterface this VLAN rides on (instead of device)")),
    protocol: Type.Optional(StringEnum(["802.1Q", "802.1ad"] as const, { description: "tag protocol; 802.1ad for QinQ outer tags" })),
  },
  { additionalProperties: false },
);

const Bond = Type.Object(
  {
    mode: StringEnum(BOND_MODES),
    members: Type.Array(InterfaceRef(), { minItems: 1, description: "NetworkInterface names (or devices of declared physical ones) to enslave" }),
    lacpRate: Type.Optional(StringEnum(["slow", "fast"] as const, { description: "802.3ad LACPDU rate" })),
    xmitHashPolicy: Type.Optional(StringEnum(XMIT_HASH_POLICIES)),
    miimon: Type.Optional(Type.Integer({ minimum: 0, maximum: 60000, description: "link monitoring interval in ms (default 100)" })),
    primary: Type.Optional(InterfaceRef("active-backup: the member preferred as active")),
    minLinks: Type.Optional(Type.Integer({ minimum: 0, maximum: 64 })),
  },
  { additionalProperties: false },
);

const Bridge = Type.Object(
  {
    members: Type.Array(InterfaceRef(), { description: "NetworkInterface names to attach as bridge ports" }),
    vlanFiltering: Type.Optional(Type.Boolean()),
    stp: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const Dhcp = Type.Object(
  {
    v4: Type.Optional(Type.Boolean({ description: "DHCPv4 client" })),
    v6: Type.Optional(Type.Boolean({ description: "DHCPv6 client" })),
    prefixDelegation: Type.Optional(
      Type.Object({ hintLength: Type.Optional(Type.Integer({ minimum: 40, maximum: 64 })) }, { additionalProperties: false }),
    ),
    classlessStaticRoutes: Type.Optional(
      Type.Boolean({
        description:
          "install the DHCPv4 server's classless static routes (option 121); each one that overlaps a connected, LAN or management network is refused (logged, in status and metrics). Default false: no routes from the server but the default route",
      }),
    ),
  },
  { additionalProperties: false },
);

export const NetworkInterfaceSpec = Type.Object(
  {
    type: Type.Optional(StringEnum(INTERFACE_TYPES, { description: "inferred from vlan/bond/bridge when omitted; physical with device and a vlan block (the seed's form) is a VLAN on that device" })),
    device: Type.Optional(IfName("kernel name of the physical NIC (or of a VLAN's parent)")),
    mac: Type.Optional(Mac("match the physical NIC by MAC address instead of name")),
    vlan: Type.Optional(Vlan),
    bond: Type.Optional(Bond),
    bridge: Type.Optional(Bridge),
    mtu: Type.Optional(Type.Integer({ minimum: 68, maximum: 65535 })),
    addresses: Type.Optional(Type.Array(Cidr)),
    dhcp: Type.Optional(Dhcp),
    delegatedPrefix: Type.Optional(
      Type.Object(
        {
          from: InterfaceRef("the NetworkInterface whose delegated prefix is split"),
          subnetId: Type.Integer({ minimum: 0, maximum: 65535, description: "which /64 of the delegated prefix" }),
        },
        { additionalProperties: false, description: "take a /64 of the prefix delegated to another interface" },
      ),
    ),
    up: Type.Optional(Type.Boolean({ description: "administrative state (default true)" })),
    zone: Type.Optional(ObjectName()),
    vrf: Type.Optional(ObjectName()),
    description: Type.Optional(Type.String({ maxLength: 200 })),
    cilium: Type.Optional(
      Type.Object({ labels: Type.Optional(Type.Record(Type.String(), Type.String())) }, { additionalProperties: false }),
    ),
    nodeSelector: NodeSelector,
  },
  { additionalProperties: false },
);

export const TableRef = Type.Union([Type.Integer({ minimum: 1, maximum: 4294967295 }), Type.Literal("main")], {
  description: "a routing table id (1 to 4294967295) or main",
});

export const VRFSpec = Type.Object(
  {
    table: Type.Integer({ minimum: 1, maximum: 4294967295, description: "the VRF's routing table (not 253–255)" }),
    members: Type.Optional(Type.Array(InterfaceRef(), { description: "NetworkInterface names placed in this VRF" })),
    nodeSelector: NodeSelector,
  },
  { additionalProperties: false },
);

export const ROUTE_TYPES = ["unicast", "blackhole", "unreachable", "prohibit"] as const;

export const RouteSpec = Type.Object(
  {
    destination: Type.String({ description: "a prefix (10.0.0.0/8, 2001:db8::/32) or default" }),
    gateway: Type.Optional(IpAddress),
    interface: Type.Optional(InterfaceRef("the NetworkInterface the route leaves by")),
    metric: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295 })),
    table: Type.Optional(TableRef),
    vrf: Type.Optional(ObjectName()),
    type: Type.Optional(StringEnum(ROUTE_TYPES)),
    nodeSelector: NodeSelector,
  },
  { additionalProperties: false },
);

export const RoutingPolicySpec = Type.Object(
  {
    priority: Type.Integer({ minimum: 1, maximum: 32765, description: "rule priority; lower runs first" }),
    family: Type.Optional(StringEnum(["ipv4", "ipv6"] as const, { description: "needed when neither from nor to says it" })),
    from: Type.Optional(Cidr),
    to: Type.Optional(Cidr),
    iif: Type.Optional(InterfaceRef("incoming NetworkInterface")),
    oif: Type.Optional(InterfaceRef("outgoing NetworkInterface")),
    fwmark: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295 })),
    fwmask: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295 })),
    table: Type.Optional(TableRef),
    vrf: Type.Optional(ObjectName("look up in this VRF's table")),
    nodeSelector: NodeSelector,
  },
  { additionalProperties: false },
);

export const NetworkInterface = KindSchema(NETWORK_GROUP, "NetworkInterface", NetworkInterfaceSpec);
export const VRF = KindSchema(NETWORK_GROUP, "VRF", VRFSpec);
export const Route = KindSchema(NETWORK_GROUP, "Route", RouteSpec);
export const RoutingPolicy = KindSchema(NETWORK_GROUP, "RoutingPolicy", RoutingPolicySpec);

export type NetworkInterfaceT = Static<typeof NetworkInterface>;
export type VRFT = Static<typeof VRF>;
export type RouteT = Static<typeof Route>;
export type RoutingPolicyT = Static<typeof RoutingPolicy>;
