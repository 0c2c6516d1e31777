// The CustomResourceDefinitions of every kind (apiextensions.k8s.io/v1), generated from the one
// schema source (`make generate` / `make crds` write deploy/crds/; a unit test keeps them
// current). TypeBox gives JSON Schema; a CRD needs a *structural* OpenAPI v3 schema, so:
//   - `additionalProperties: false` goes (Kubernetes forbids it beside `properties`; the API
//     server prunes unknown fields instead, and `fos1 validate` still reports them);
//   - TypeBox's `patternProperties` of a Record becomes `additionalProperties` (a map);
//   - `const` becomes a one-value `enum` (OpenAPI v3 has no const);
//   - an integer-or-string union becomes `x-kubernetes-int-or-string` with the one `anyOf`
//     pattern Kubernetes allows; any other union is refused here, loudly;
//   - formats the API server does not know (fos1's "ip") are left out;
//   - metadata is left to the API server except the name's own restrictions.
import { stringify } from "yaml";
import { kinds, type KindInfo } from "./kinds";

type Schema = Record<string, unknown>;

/** The string formats the API server validates (k8s.io/kube-openapi strfmt); others are left out. */
export const KUBERNETES_FORMATS = new Set([
  "bsonobjectid", "uri", "email", "hostname", "ipv4", "ipv6", "cidr", "mac", "uuid", "uuid3", "uuid4", "uuid5", "isbn", "isbn10",
  "isbn13", "creditcard", "ssn", "hexcolor", "rgbcolor", "byte", "password", "date", "duration", "datetime", "date-time", "int32", "int64", "float", "double",
]);

export const CRD_DIR = "deploy/crds";
export const VERSION = "v1alpha1";

interface Column {
  name: string;
  type: "string" | "integer" | "boolean" | "date";
  jsonPath: string;
  description?: string;
}

interface KindNames {
  shortNames: string[];
  columns: Column[];
}

const READY: Column = { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' };
const AGE: Column = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" };

/** What `kubectl get` shows of each kind, and the short names it answers to. */
const NAMES: Record<string, KindNames> = {
  NetworkInterface: { shortNames: ["fnic"], columns: [{ name: "Type", type: "string", jsonPath: ".spec.type" }, { name: "Device", type: "string", jsonPath: ".spec.device" }, { name: "Zone", type: "string", jsonPath: ".spec.zone" }] },
  VRF: { shortNames: ["fvrf"], columns: [{ name: "Table", type: "integer", jsonPath: ".spec.table" }] },
  Route: { shortNames: ["froute"], columns: [{ name: "Destination", type: "string", jsonPath: ".spec.destination" }, { name: "Gateway", type: "string", jsonPath: ".spec.gateway" }, { name: "VRF", type: "string", jsonPath: ".spec.vrf" }] },
  RoutingPolicy: { shortNames: ["frp"], columns: [{ name: "Priority", type: "integer", jsonPath: ".spec.priority" }, { name: "From", type: "string", jsonPath: ".spec.from" }, { name: "Table", type: "string", jsonPath: ".spec.table" }] },
  NATPolicy: { shortNames: ["fnat"], columns: [{ name: "Type", type: "string", jsonPath: ".spec.type" }, { name: "Interface", type: "string", jsonPath: ".spec.interface" }] },
  DHCPServer: { shortNames: ["fdhcp"], columns: [{ name: "Interface", type: "string", jsonPath: ".spec.interface" }, { name: "Domain", type: "string", jsonPath: ".spec.domain" }] },
  RouterAdvertisement: { shortNames: ["fra"], columns: [{ name: "Interface", type: "string", jsonPath: ".spec.interface" }, { name: "SLAAC", type: "boolean", jsonPath: ".spec.slaac" }, { name: "Managed", type: "boolean", jsonPath: ".spec.managed" }] },
  DNSResolver: { shortNames: ["fdns"], columns: [{ name: "Zones", type: "string", jsonPath: ".spec.zones" }, { name: "Domain", type: "string", jsonPath: ".spec.localDomain" }, { name: "DNSSEC", type: "boolean", jsonPath: ".spec.dnssec" }] },
  FirewallZone: { shortNames: ["fzone"], columns: [{ name: "Input", type: "string", jsonPath: ".spec.input" }, { name: "Forward", type: "string", jsonPath: ".spec.forward" }, { name: "Management", type: "boolean", jsonPath: ".spec.management" }] },
  FirewallRule: { shortNames: ["frule"], columns: [{ name: "From", type: "string", jsonPath: ".spec.fromZone" }, { name: "To", type: "string", jsonPath: ".spec.toZone" }, { name: "Protocol", type: "string", jsonPath: ".spec.protocol" }, { name: "Action", type: "string", jsonPath: ".spec.action" }] },
  VLANPolicy: { shortNames: ["fvlanpol"], columns: [{ name: "From", type: "integer", jsonPath: ".spec.fromVLAN" }, { name: "To", type: "integer", jsonPath: ".spec.toVLAN" }, { name: "AllowAll", type: "boolean", jsonPath: ".spec.allowAll" }] },
  XDPFilter: { shortNames: ["fxdp"], columns: [{ name: "Interfaces", type: "string", jsonPath: ".spec.interfaces" }, { name: "Mode", type: "string", jsonPath: ".spec.mode" }] },
  DPIProfile: { shortNames: ["fdpi"], columns: [{ name: "Applications", type: "string", jsonPath: ".spec.applications" }, { name: "Enabled", type: "boolean", jsonPath: ".spec.enabled" }] },
};

/** Where the status of every kind says what happened (Kubernetes API conventions), and where the controller placed it. */
const STATUS: Schema = {
  type: "object",
  description: "what happened to this object; written by fos1's controller and agent",
  properties: {
    observedGeneration: { type: "integer", format: "int64", description: "the metadata.generation this status describes" },
    conditions: {
      type: "array",
      description: "Ready, Translated, Applied",
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["type"],
      items: {
        type: "object",
        required: ["type", "status", "lastTransitionTime", "reason", "message"],
        properties: {
          type: { type: "string", maxLength: 316 },
          status: { type: "string", enum: ["True", "False", "Unknown"] },
          observedGeneration: { type: "integer", format: "int64", minimum: 0 },
          lastTransitionTime: { type: "string", format: "date-time" },
          reason: { type: "string", maxLength: 1024 },
          message: { type: "string", maxLength: 32768 },
        },
      },
    },
    placements: {
      type: "array",
      description: "which part of this object is enforced where (src/cilium/translate)",
      items: {
        type: "object",
        required: ["target", "detail"],
        properties: {
          target: { type: "string", enum: ["cilium", "nftables", "ids"] },
          detail: { type: "string" },
          objects: { type: "array", items: { type: "string" }, description: "Kind/name of the generated objects" },
        },
      },
    },
  },
};

export function plural(kind: string): string {
  const lower = kind.toLowerCase();
  return lower.endsWith("y") ? `${lower.slice(0, -1)}ies` : `${lower}s`;
}

const group = (k: KindInfo) => k.apiVersion.split("/")[0]!;

/** The CRD of one kind. */
export function crdFor(k: KindInfo): Schema {
  const names = NAMES[k.kind];
  if (!names) throw new Error(`no CRD names for kind ${k.kind}: add it to NAMES in src/api/crds.ts`);
  const json = JSON.parse(JSON.stringify(k.schema)) as Schema; // plain JSON: drops TypeBox's symbol keys
  const props = json.properties as Record<string, Schema>;
  const meta = props.metadata!.properties as Record<string, Schema>;
  const openAPIV3Schema: Schema = {
    type: "object",
    description: `${k.kind}: ${group(k) === "network.fos1.io" ? "fos1 host networking" : "fos1 security policy"} (${k.apiVersion})`,
    required: ["spec"],
    properties: {
      apiVersion: { type: "string" },
      kind: { type: "string" },
      metadata: { type: "object", properties: { name: structural(meta.name!, "metadata.name") } },
      spec: structural(props.spec!, "spec"),
      status: STATUS,
    },
  };
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural(k.kind)}.${group(k)}`, labels: { "app.kubernetes.io/managed-by": "fos1", "app.kubernetes.io/part-of": "fos1" } },
    spec: {
      group: group(k),
      scope: "Cluster",
      names: {
        kind: k.kind,
        listKind: `${k.kind}List`,
        plural: plural(k.kind),
        singular: k.kind.toLowerCase(),
        shortNames: names.shortNames,
        categories: ["fos1", group(k) === "network.fos1.io" ? "fos1-network" : "fos1-security"],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [...names.columns, READY, AGE],
          schema: { openAPIV3Schema },
        },
      ],
    },
  };
}

/** A JSON Schema node from TypeBox as a structural OpenAPI v3 node. */
function structural(node: Schema, where: string): Schema {
  const out: Schema = {};
  for (const [key, value] of Object.entries(node)) {
    switch (key) {
      case "$id":
      case "$schema":
        break;
      case "additionalProperties":
        if (typeof value === "object") out.additionalProperties = structural(value as Schema, `${where}.*`);
        break; // false: pruning does it (see the top of this file)
      case "patternProperties": {
        const entries = Object.entries(value as Record<string, Schema>);
        if (entries.length !== 1 || entries[0]![0] !== "^(.*)$") throw new Error(`${where}: patternProperties other than a plain Record cannot be a CRD schema`);
        out.additionalProperties = structural(entries[0]![1], `${where}.*`);
        break;
      }
      case "const":
        out.enum = [value];
        break;
      case "format":
        if (KUBERNETES_FORMATS.has(value as string)) out.format = value;
        break; // e.g. "ip": the API server does not know it; fos1 validate checks it

      case "properties":
        out.properties = Object.fromEntries(Object.entries(value as Record<string, Schema>).map(([k, v]) => [k, structural(v, `${where}.${k}`)]));
        break;
      case "items":
        out.items = structural(value as Schema, `${where}[]`);
        break;
      case "anyOf":
        Object.assign(out, intOrString(value as Schema[], where));
        break;
      case "oneOf":
      case "allOf":
      case "not":
      case "$ref":
        throw new Error(`${where}: ${key} cannot be a CRD schema here; write the kind's schema without it`);
      default:
        out[key] = value;
    }
  }
  return out;
}

/** An integer-or-string union in the one form Kubernetes accepts (no type, description or default inside anyOf). */
function intOrString(branches: Schema[], where: string): Schema {
  const types = branches.map((b) => b.type);
  if (branches.length !== 2 || types[0] !== "integer" || types[1] !== "string")
    throw new Error(`${where}: a union must be an integer or a string (x-kubernetes-int-or-string) to be a CRD schema; got ${JSON.stringify(types)}`);
  const bare = (b: Schema) => {
    const { description: _d, default: _def, ...rest } = structural(b, where);
    return rest;
  };
  return { "x-kubernetes-int-or-string": true, anyOf: branches.map(bare) };
}

/** Every CRD, as the files `make crds` writes: path relative to the repository, YAML text. */
export function crdFiles(): { path: string; text: string }[] {
  return kinds.map((k) => ({
    path: `${CRD_DIR}/${group(k)}_${plural(k.kind)}.yaml`,
    text: `# Generated by \`make crds\` from src/api/schema/ (src/api/crds.ts). Do not edit.\n${stringify(crdFor(k), { lineWidth: 0 })}`,
  }));
}
