// Building blocks shared by every kind's schema. Descriptions end up in the CRDs.
import { Type, type Static, type TSchema } from "@sinclair/typebox";

/** A string enum as JSON Schema `enum` (clear errors: "must be one of …"), typed as the union. */
export function StringEnum<const T extends readonly string[]>(values: T, options: { description?: string } = {}) {
  return Type.Unsafe<T[number]>({ type: "string", enum: [...values], ...options });
}

/** An object's name, or a reference to one. */
export const ObjectName = (description = "lower-case letters, digits, '-' and '.', starting and ending with a letter or digit") =>
  Type.String({ pattern: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", maxLength: 63, description });

/** A reference to a NetworkInterface by name, or to a physical one by its device name. */
export const InterfaceRef = (description = "a NetworkInterface name, or the device of a declared physical one") =>
  Type.String({ pattern: "^[A-Za-z0-9_.-]{1,63}$", description });

/** A Linux interface name as the kernel accepts it. */
export const IfName = (description = "a Linux interface name: up to 15 letters, digits, '_', '.' or '-'") =>
  Type.String({ pattern: "^[A-Za-z0-9_.-]{1,15}$", description });

export const Cidr = Type.String({ format: "cidr", description: "an IPv4 or IPv6 address with prefix length, e.g. 192.168.1.1/24 or 2001:db8::1/64" });
export const IpAddress = Type.String({ format: "ip", description: "an IPv4 or IPv6 address" });
export const Mac = (description = "a MAC address, e.g. 52:54:00:12:34:56") =>
  Type.String({ pattern: "^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$", description });

/**
 * Which nodes' agents take a node-local object from the cluster (NetworkInterface, VRF, Route,
 * RoutingPolicy, NATPolicy, XDPFilter), as a Pod's nodeSelector: every label must match.
 */
export const NodeSelector = Type.Optional(
  Type.Record(Type.String(), Type.String(), {
    description: "labels a node must carry for its agent to take this object from the cluster (as a Pod's nodeSelector); absent: every node. Not used in a node's own config file",
  }),
);

export const Metadata = Type.Object(
  {
    name: ObjectName(),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
  },
  { additionalProperties: false },
);

/** The Kubernetes-style envelope every kind shares. */
export function KindSchema<G extends string, K extends string, S extends TSchema>(group: G, kind: K, spec: S) {
  return Type.Object(
    {
      apiVersion: Type.Literal(`${group}/v1alpha1` as `${G}/v1alpha1`),
      kind: Type.Literal(kind),
      metadata: Metadata,
      spec,
    },
    { additionalProperties: false },
  );
}

export type MetadataT = Static<typeof Metadata>;
