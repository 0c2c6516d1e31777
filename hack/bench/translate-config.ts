// The translate benchmark's input and its strawman, shared by the driver and the child process:
// a router with 50 zones (one the internet, behind a DHCP uplink; 49 LAN VLANs with a /16 each)
// and N FirewallRules drawn with a fixed seed — 1–3 ports (from 12 toward the internet, 40 between LANs), 10% one of 4 port ranges,
// 8% denies, 10% with sources and 10% with destinations (one of two host groups, a /24 each, of
// the zone; or one of 20 internet services), 10% toward the router itself. Address groups and
// ports are reused as in real rule sets: every distinct CIDR is a Cilium identity, and unique
// /24s × hundreds of ports overflow an endpoint's policy map (fos1 then refuses, see README).
// The naive translation (one CiliumClusterwideNetworkPolicy per rule, nothing merged or carved)
// lives here only, as the thing fos1's translation is measured against.
import type { ConfigObject } from "../../src/api/kinds";
import type { KubeObject } from "../../src/cilium/translate";
import { cidrRule, cidrSet, intersect } from "../../src/cilium/translate/cidr-set";
import { renderService, serviceOf } from "../../src/cilium/translate/service";
import { topology } from "../../src/cilium/translate/topology";
import { desiredFirewall } from "../../src/policy/model";
import { seededRandom } from "../../test/helpers/seeded-random";

export const ZONES = 50;

export function benchConfig(rules: number): ConfigObject[] {
  const rnd = seededRandom(7); // the same config on every run
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const internetPorts = [22, 25, 53, 80, 110, 123, 143, 443, 465, 587, 993, 995];
  const lanPorts = [...internetPorts, 1194, 1883, 3306, 3389, 5432, 6379, 8080, 8443, ...Array.from({ length: 20 }, (_, i) => 10000 + i * 7)];
  const ranges = ["6000-6063", "8000-8099", "27000-27050", "60000-60999"];
  const services = Array.from({ length: 20 }, (_, i) => `198.18.${i}.0/24`);
  const objects: ConfigObject[] = [
    { apiVersion: "network.fos1.io/v1alpha1", kind: "NetworkInterface", metadata: { name: "uplink" }, spec: { device: "eth0", dhcp: { v4: true }, zone: "wan" } },
    { apiVersion: "network.fos1.io/v1alpha1", kind: "NetworkInterface", metadata: { name: "trunk" }, spec: { device: "eth1" } },
    { apiVersion: "security.fos1.io/v1alpha1", kind: "FirewallZone", metadata: { name: "wan" }, spec: {} },
  ];
  const lans = Array.from({ length: ZONES - 1 }, (_, i) => `z${String(i + 1).padStart(2, "0")}`);
  lans.forEach((z, i) => {
    objects.push({ apiVersion: "network.fos1.io/v1alpha1", kind: "NetworkInterface", metadata: { name: z }, spec: { vlan: { parent: "trunk", id: 100 + i }, addresses: [`10.${i + 1}.0.1/16`], zone: z } });
    objects.push({ apiVersion: "security.fos1.io/v1alpha1", kind: "FirewallZone", metadata: { name: z }, spec: { input: "reject", forward: "reject", ...(i === 0 ? { management: true } : {}) } });
  });
  for (let n = 0; n < rules; n++) {
    const from = pick(lans);
    const r = rnd();
    const to = r < 0.45 ? "wan" : r < 0.9 ? pick(lans) : "host";
    const p = rnd();
    const protocol = p < 0.7 ? "tcp" : p < 0.95 ? "udp" : "icmp";
    const spec: Record<string, unknown> = { fromZone: from, toZone: to, protocol, action: rnd() < 0.08 ? "deny" : "allow", priority: 100 + Math.floor(rnd() * 1900) };
    if (protocol !== "icmp") {
      const pool = to === "wan" ? internetPorts : lanPorts;
      spec.ports = rnd() < 0.1 ? [pick(ranges)] : [...new Set(Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => pick(pool)))];
    }
    const group = () => 1 + Math.floor(rnd() * 2); // two host groups (/24) per zone
    if (rnd() < 0.1) spec.sources = [`10.${lans.indexOf(from) + 1}.${group()}.0/24`];
    if (to !== "host" && rnd() < 0.1) spec.destinations = [to === "wan" ? pick(services) : `10.${lans.indexOf(to) + 1}.${group()}.0/24`];
    objects.push({ apiVersion: "security.fos1.io/v1alpha1", kind: "FirewallRule", metadata: { name: `r${n}` }, spec } as ConfigObject);
  }
  return objects;
}

/** One policy per rule: the rule's egress from its zone's pods (or ingress on the router), as it stands. */
export function naiveTranslate(objects: ConfigObject[]): KubeObject[] {
  const loaded = objects.map((value, i) => ({ source: { file: "<bench>", document: i + 1 }, ref: `${value.kind}/${value.metadata.name}`, value }));
  const topo = topology(loaded);
  const region = new Map(topo.zones.map((z) => [z.name, z.region]));
  return desiredFirewall(loaded).rules.map((r) => {
    const remote = region.get(r.to === "host" ? r.from : r.to)!;
    const cidrs = r.to === "host" ? r.sources : r.destinations;
    const peerCidrs = cidrs.length ? intersect(cidrSet(cidrs), remote.cidrs) : remote.cidrs;
    const way = r.to === "host" ? "from" : "to";
    const peer = { ...(cidrs.length ? {} : { [`${way}Endpoints`]: remote.selectors }), ...(peerCidrs.length ? { [`${way}CIDRSet`]: peerCidrs.map(cidrRule) } : {}) };
    const items = renderService(serviceOf(r.protocol, r.ports, r.action === "allow" ? "allow" : "deny")).map((l4) => ({ ...peer, ...l4 }));
    const section = `${r.to === "host" ? "ingress" : "egress"}${r.action === "allow" ? "" : "Deny"}`;
    const selector = r.to === "host" ? { nodeSelector: { matchLabels: { "fos1.io/role": "router" } } } : { endpointSelector: { matchLabels: { "fos1.io/zone": r.from } } };
    return { apiVersion: "cilium.io/v2", kind: "CiliumClusterwideNetworkPolicy", metadata: { name: `naive-${r.name}`, labels: {} }, spec: { ...selector, [section]: items } };
  });
}

/** Rule items (entries of ingress, ingressDeny, egress, egressDeny) across the objects. */
export const ruleItems = (objects: KubeObject[]) =>
  objects.reduce((n, o) => n + ["ingress", "ingressDeny", "egress", "egressDeny"].reduce((m, k) => m + (((o.spec ?? {})[k] as unknown[] | undefined)?.length ?? 0), 0), 0);
