// fos1's Helm values for Cilium (deploy/cilium/) against the chart's published values schema
// (schemas/cilium/helm-values.schema.json, JSON Schema draft-07). That schema checks
// the types of the keys it knows and nothing else (no additionalProperties: false), so a
// misspelled key would pass it: every key path set here must also exist in the schema.
import { describe, expect, test } from "bun:test";
import Ajv from "ajv";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

type Json = Record<string, unknown>;
const repo = join(import.meta.dir, "..", "..");
const schema = JSON.parse(readFileSync(join(repo, "schemas", "cilium", "helm-values.schema.json"), "utf8")) as Json;
const values = (file: string) => parse(readFileSync(join(repo, "deploy", "cilium", file), "utf8")) as Json;

const isMap = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Helm's merge of values files: maps merge, anything else is replaced by the later file. */
function merge(a: unknown, b: unknown): unknown {
  if (!isMap(a) || !isMap(b)) return b;
  const out: Json = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = merge(a[k], v);
  return out;
}

/** Key paths of `value` that the schema does not name (maps the schema leaves free-form aside). */
function unknownKeys(value: unknown, node: Json, path = ""): string[] {
  if (!isMap(value)) return [];
  const props = node.properties as Record<string, Json> | undefined;
  if (!props) return []; // a free-form map (annotations, resources, …)
  return Object.entries(value).flatMap(([k, v]) => {
    const where = path ? `${path}.${k}` : k;
    const child = props[k];
    return child ? unknownKeys(v, child, where) : [where];
  });
}

const check = new Ajv({ strict: false, allErrors: true }).compile(schema);

function validate(v: unknown): string[] {
  return check(v) ? [] : (check.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

const variants: [string, Json][] = [
  ["values.yaml (VXLAN tunnels)", values("values.yaml")],
  ["values.yaml + values-direct-routing.yaml", merge(values("values.yaml"), values("values-direct-routing.yaml")) as Json],
];

describe.each(variants)("Cilium Helm values: %s", (_name, v) => {
  test("validate against the chart's values schema", () => {
    expect(validate(v)).toEqual([]);
  });

  test("set only keys the chart knows", () => {
    expect(unknownKeys(v, schema)).toEqual([]);
  });

  test("carry the Talos values (ipam, KubePrism, cgroup, capabilities without SYS_MODULE)", () => {
    expect(v).toMatchObject({ ipam: { mode: "kubernetes" }, k8sServiceHost: "localhost", k8sServicePort: 7445, kubeProxyReplacement: true, cgroup: { autoMount: { enabled: false }, hostRoot: "/sys/fs/cgroup" } });
    const caps = (v.securityContext as { capabilities: { ciliumAgent: string[]; cleanCiliumState: string[] } }).capabilities;
    expect(caps.ciliumAgent).toContain("NET_ADMIN");
    expect([...caps.ciliumAgent, ...caps.cleanCiliumState]).not.toContain("SYS_MODULE");
  });

  test("carry the seed's core configuration: dual stack, host firewall, bandwidth manager, Hubble with Relay and metrics", () => {
    expect(v).toMatchObject({ ipv4: { enabled: true }, ipv6: { enabled: true }, hostFirewall: { enabled: true }, bandwidthManager: { enabled: true }, hubble: { enabled: true, relay: { enabled: true } } });
    expect((v.hubble as { metrics: { enabled: string[] } }).metrics.enabled.length).toBeGreaterThan(0);
    // fos1 owns XDP on the uplinks, and its nftables must see pod traffic.
    expect(v).toMatchObject({ loadBalancer: { acceleration: "disabled" }, bpf: { hostLegacyRouting: true } });
  });
});

test("the base routes over VXLAN; the overlay switches to direct node routes (Cilium refuses both at once)", () => {
  const [[, tunnel], [, direct]] = variants as [[string, Json], [string, Json]];
  expect(tunnel).toMatchObject({ routingMode: "tunnel", tunnelProtocol: "vxlan", autoDirectNodeRoutes: false });
  expect(direct).toMatchObject({ routingMode: "native", autoDirectNodeRoutes: true });
  expect(direct.ipv4NativeRoutingCIDR).toBeDefined();
  expect(direct.ipv6NativeRoutingCIDR).toBeDefined();
});

test("the checks catch a misspelled key and a wrongly typed value", () => {
  const bad = merge(values("values.yaml"), { hostFirewal: { enabled: true }, hubble: { metrics: { enabled: true } } });
  expect(unknownKeys(bad, schema)).toEqual(["hostFirewal"]);
  expect(validate(bad).join("\n")).toContain("/hubble/metrics/enabled");
});
