// fos1 objects → Cilium resources (src/cilium/translate): golden files for the seed's examples,
// the shipped default config and the ordering cases; every generated Cilium object validated
// against Cilium's published CRD schemas; the semantics a user relies on (first-match order kept
// by carving denies, the management path, what is refused and why, merging, the policy-map
// budget, object size), NAT and DPI placement, and the CLI. `UPDATE_GOLDEN=1 bun test
// test/unit/translate.test.ts` rewrites the goldens; review every changed line.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import type { ConfigObject } from "../../src/api/kinds";
import { loadConfigText } from "../../src/api/load";
import { formatProblem } from "../../src/api/problems";
import { translate, type KubeObject, type TranslationResult } from "../../src/cilium/translate";
import { translationYaml } from "../../src/cli/commands/translate";
import { fos1, logMessages } from "../helpers/fos1";
import { ciliumSchemaErrors, isCiliumKind } from "./cilium-schemas";

const repo = resolve(import.meta.dir, "../..");
const GOLDEN = join(import.meta.dir, "golden/translate");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

function objectsOf(text: string, file = "t.yaml"): ConfigObject[] {
  const r = loadConfigText(text, file);
  if (r.problems.length) throw new Error(`test config ${file} is not valid:\n${r.problems.map(formatProblem).join("\n")}`);
  return r.objects.map((o) => o.value);
}

type Rule = Record<string, unknown>;
const spec = (r: TranslationResult, name: string) => {
  const o = r.objects.find((x) => x.metadata.name === name);
  if (!o) throw new Error(`no object ${name}; have ${r.objects.map((x) => x.metadata.name).join(", ")}`);
  return o.spec as Record<string, Rule[]>;
};
const statusOf = (r: TranslationResult, ref: string) => r.status.find((s) => s.object === ref)!;
const cidrsOf = (rule: Rule, way: "to" | "from") => (rule[`${way}CIDRSet`] as { cidr: string; except?: string[] }[] | undefined) ?? [];
const portsOf = (rule: Rule) => ((rule.toPorts as { ports: { port: string; endPort?: number; protocol: string }[] }[] | undefined) ?? []).flatMap((p) => p.ports);
const zoneOf = (rule: Rule, way: "to" | "from") => ((rule[`${way}Endpoints`] as { matchLabels?: Record<string, string> }[] | undefined) ?? []).map((s) => s.matchLabels?.["fos1.io/zone"]).filter(Boolean);

function expectValidCiliumObjects(objects: KubeObject[]) {
  expect(objects.filter((o) => isCiliumKind(o.kind)).map((o) => ciliumSchemaErrors(o)).filter(Boolean)).toEqual([]);
  for (const o of objects) {
    expect(o.metadata.labels["app.kubernetes.io/managed-by"]).toBe("fos1");
    expect(o.metadata.labels["fos1.io/owner-kind"]).toMatch(/^[A-Z][A-Za-z]+$/);
    expect(o.metadata.labels["fos1.io/owner-name"]).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
  }
}

// A small router for the cases below: lan and dmz with addresses, wan with DHCP (the internet), mgmt.
const doc = (kind: string, name: string, body: string, group = "network.fos1.io") => `---\napiVersion: ${group}/v1alpha1\nkind: ${kind}\nmetadata: {name: ${name}}\nspec: ${body}\n`;
const zone = (name: string, body = "{}") => doc("FirewallZone", name, body, "security.fos1.io");
const rule = (name: string, body: string) => doc("FirewallRule", name, body, "security.fos1.io");
const ROUTER =
  doc("NetworkInterface", "wan", "{device: eth0, dhcp: {v4: true}, zone: wan}") +
  doc("NetworkInterface", "lan", "{device: eth1, addresses: [192.168.10.1/24], zone: lan}") +
  doc("NetworkInterface", "dmz", "{device: eth2, addresses: [172.16.0.1/24], zone: dmz}") +
  doc("NetworkInterface", "mgmt", "{device: eth3, addresses: [192.168.99.1/24], zone: mgmt}") +
  zone("wan") + zone("dmz") + zone("mgmt", "{management: true}");
const router = (lanZone: string, ...rules: string[]) => objectsOf(ROUTER + zone("lan", lanZone) + rules.join(""));

describe("golden translations", () => {
  const cases = [
    ["seed", join(GOLDEN, "seed.yaml")],
    ["ordering", join(GOLDEN, "ordering.yaml")],
    ["default-config", join(repo, "src/api/default-config.yaml")],
  ] as const;
  for (const [name, file] of cases)
    test(`${name}: the objects and what went where, as committed; every Cilium object valid against Cilium's CRD schema`, () => {
      const result = translate(objectsOf(readFileSync(file, "utf8"), basename(file)));
      expect(result.refused).toEqual([]);
      expectValidCiliumObjects(result.objects);
      const text = translationYaml(basename(file), result);
      const golden = join(GOLDEN, `${name}.out.yaml`);
      if (UPDATE || !existsSync(golden)) writeFileSync(golden, text);
      expect(text === readFileSync(golden, "utf8")).toBe(true);
      // kubectl can read it: one document per object, nothing else.
      expect(parseAllDocuments(text).map((d) => (d.toJS() as KubeObject).metadata.name)).toEqual(result.objects.map((o) => o.metadata.name));
    });

  test("the same objects always give the same output, and the input is not changed", () => {
    const objects = objectsOf(readFileSync(join(GOLDEN, "ordering.yaml"), "utf8"));
    const before = JSON.stringify(objects);
    expect(JSON.stringify(translate(objects))).toBe(JSON.stringify(translate(objects)));
    expect(JSON.stringify(objects)).toBe(before);
  });

  test("the Cilium schema check itself rejects what Cilium would (ICMP is not a toPorts protocol)", () => {
    const bad = { apiVersion: "cilium.io/v2", kind: "CiliumClusterwideNetworkPolicy", metadata: { name: "x" }, spec: { endpointSelector: {}, ingress: [{ toPorts: [{ ports: [{ port: "8", protocol: "ICMP" }] }] }] } };
    expect(ciliumSchemaErrors(bad)).toContain("must be equal to one of the allowed values");
  });
});

describe("first-match rules become allows and carved denies (Cilium has no order; deny wins)", () => {
  test("an allow above a broader deny is cut out of the deny: an except for its address, the other ports for the rest", () => {
    const r = translate(objectsOf(readFileSync(join(GOLDEN, "ordering.yaml"), "utf8")));
    const denies = spec(r, "fos1-zone-lan").egressDeny!;
    const bastion = denies.find((d) => cidrsOf(d, "to").some((c) => c.cidr === "172.16.0.10/32"))!;
    expect(portsOf(bastion)).toEqual([{ port: "1", endPort: 21, protocol: "TCP" }, { port: "23", endPort: 65535, protocol: "TCP" }]);
    const rest = denies.find((d) => zoneOf(d, "to").includes("dmz"))!;
    expect(cidrsOf(rest, "to")).toContainEqual({ cidr: "172.16.0.0/24", except: ["172.16.0.10/32"] });
    expect(portsOf(rest)).toEqual([{ port: "0", protocol: "TCP" }]);
    // The allow itself stays, and the allow below the deny (never reached in nftables) is not rendered.
    expect(spec(r, "fos1-zone-lan").egress!.some((a) => cidrsOf(a, "to").some((c) => c.cidr === "172.16.0.10/32") && portsOf(a).some((p) => p.port === "22"))).toBe(true);
    expect(statusOf(r, "FirewallRule/web-to-dmz").state).toBe("node-only");
    expect(statusOf(r, "FirewallRule/web-to-dmz").notes.join()).toContain("never matches");
  });

  test("a deny of everything from the management zone never closes the management ports (nftables accepts them first)", () => {
    const r = translate(router("{}", rule("mgmt-nothing-else", "{fromZone: mgmt, toZone: host, action: deny}")));
    const host = spec(r, "fos1-host");
    const fromMgmt = (d: Rule) => zoneOf(d, "from").includes("mgmt") || cidrsOf(d, "from").some((c) => c.cidr === "192.168.99.0/24");
    const deniedTcp = host.ingressDeny!.filter(fromMgmt).flatMap(portsOf).filter((p) => p.protocol === "TCP");
    expect(deniedTcp.length).toBeGreaterThan(0);
    for (const port of [6443, 50000, 50001, 10250, 2379, 2380]) expect(deniedTcp.some((p) => Number(p.port) <= port && port <= (p.endPort ?? Number(p.port)))).toBe(false);
    expect(host.ingress!.filter(fromMgmt).flatMap(portsOf)).toContainEqual({ port: "6443", protocol: "TCP" });
  });

  test("a deny of every protocol below a tcp allow is written for tcp, udp and icmp when nothing else would open other protocols", () => {
    const r = translate(router("{}", rule("web", "{fromZone: lan, toZone: wan, protocol: tcp, ports: [443], action: allow, priority: 10}"), rule("rest", "{fromZone: lan, toZone: wan, action: deny, priority: 20}")));
    expect(r.refused).toEqual([]);
    const deny = spec(r, "fos1-zone-lan").egressDeny!.filter((d) => zoneOf(d, "to").includes("wan"));
    expect(deny.flatMap(portsOf)).toEqual([{ port: "1", endPort: 442, protocol: "TCP" }, { port: "444", endPort: 65535, protocol: "TCP" }, { port: "0", protocol: "UDP" }]);
    expect(spec(r, "fos1-zone-lan").egress!.some((a) => zoneOf(a, "to").includes("wan") && portsOf(a).some((p) => p.port === "443"))).toBe(true);
  });

  test("…and is refused, with nothing generated, when the zone forwards everything else by default", () => {
    const r = translate(router("{forward: accept}", rule("web", "{fromZone: lan, toZone: wan, protocol: tcp, ports: [443], action: allow, priority: 10}"), rule("rest", "{fromZone: lan, toZone: wan, action: deny, priority: 20}")));
    expect(r.objects).toEqual([]);
    expect(r.refused.map((x) => x.object)).toEqual(["FirewallRule/rest"]);
    expect(r.refused[0]!.reason).toContain('it cannot write "every other protocol" while FirewallZone/lan allows other protocols');
    expect(r.refused[0]!.reason).toContain("Name the deny's protocols (tcp, udp, icmp) instead");
    expect(statusOf(r, "FirewallRule/rest").state).toBe("refused");
    expect(statusOf(r, "FirewallRule/web").notes.join()).toContain("nothing was generated");
  });

  test("what Cilium has no word for is said in the status, always on the stricter side", () => {
    const r = translate(
      router(
        "{}",
        rule("noisy", "{fromZone: lan, toZone: dmz, protocol: tcp, ports: [23], action: reject, log: true}"),
        rule("limited", "{fromZone: lan, toZone: host, protocol: icmp, action: allow, rateLimit: {rate: 5}}"),
        rule("from-some", "{fromZone: lan, toZone: wan, protocol: tcp, ports: [22], sources: [192.168.10.0/25], action: allow}"),
      ),
    );
    expect(statusOf(r, "FirewallRule/noisy").notes).toEqual(["Cilium drops what nftables rejects (no TCP reset or ICMP answer)", "Cilium has no per-rule log: Hubble records the flows and their verdicts"]);
    expect(statusOf(r, "FirewallRule/limited")).toMatchObject({ state: "node-only", notes: ["Cilium cannot limit a rule's rate: this allow is left out of Cilium's rules (stricter)"] });
    const fromSome = statusOf(r, "FirewallRule/from-some");
    expect(fromSome.notes).toEqual(["its sources are addresses, which pods do not have: it does not concern the pods of zone lan"]);
    expect(fromSome.placements.find((p) => p.target === "cilium")!.objects).toEqual(["CiliumClusterwideNetworkPolicy/fos1-zone-wan"]);
    expect(spec(r, "fos1-zone-wan").ingress!.some((i) => cidrsOf(i, "from").some((c) => c.cidr === "192.168.10.0/25"))).toBe(true);
  });
});

describe("the fewest objects, inside Cilium's limits", () => {
  const manyPorts = (n: number, extra = "") => Array.from({ length: n }, (_, i) => rule(`r${i}`, `{fromZone: lan, toZone: wan, protocol: tcp, ports: [${2000 + 2 * i}]${extra}, action: allow}`));

  test("200 rules between the same zones become one rule item per direction, ports merged (at most 40 a toPorts entry)", () => {
    const r = translate(router("{}", ...manyPorts(200)));
    expect(r.objects.map((o) => o.metadata.name)).toEqual(["fos1-host", "fos1-zone-dmz", "fos1-zone-lan", "fos1-zone-mgmt", "fos1-zone-wan"]);
    const toWan = spec(r, "fos1-zone-lan").egress!.filter((e) => zoneOf(e, "to").includes("wan"));
    expect(toWan).toHaveLength(1);
    expect(portsOf(toWan[0]!)).toHaveLength(200);
    expect((toWan[0]!.toPorts as unknown[]).length).toBe(5);
    expectValidCiliumObjects(r.objects);
  });

  test("a policy that would overflow the endpoint's policy map is refused with the numbers; a larger bpf.policyMapMax lets it fit", () => {
    const dests = Array.from({ length: 60 }, (_, i) => `203.0.113.${i}/32`).join(", ");
    const objects = router("{}", rule("wide", `{fromZone: lan, toZone: wan, protocol: tcp, ports: [${Array.from({ length: 250 }, (_, i) => 3000 + 2 * i).join(", ")}], destinations: [${dests}], action: allow}`));
    const r = translate(objects);
    expect(r.objects).toEqual([]);
    expect(r.refused.map((x) => x.object)).toContain("FirewallRule/wide");
    expect(r.refused[0]!.reason).toMatch(/^fos1-zone-lan would need about \d+ policy-map entries on each endpoint it selects, more than fos1's budget of 12288 \(3\/4 of bpf.policyMapMax 16384\)/);
    expect(r.policyMap.entries["fos1-zone-lan"]).toBeGreaterThan(60 * 250);
    const bigger = translate(objects, { policyMapMax: 65536 });
    expect(bigger.refused).toEqual([]);
    expect(bigger.policyMap.budget).toBe(49152);
  });

  test("a policy over budget because of its denies gets them narrowed to what its allows admit, instead of being refused", () => {
    // 55 denies of every ICMP type (256 policy-map entries per peer identity each) from 55 address groups: 14 080 entries.
    const groups = Array.from({ length: 55 }, (_, i) => rule(`no-icmp-${i}`, `{fromZone: lan, toZone: dmz, protocol: icmp, sources: [192.168.10.${i * 4}/30], action: deny}`));
    const objects = router("{}", rule("ping-dmz", "{fromZone: lan, toZone: dmz, protocol: icmp, action: allow, priority: 2000}"), ...groups);
    const r = translate(objects);
    expect(r.refused).toEqual([]);
    expect(r.policyMap.entries["fos1-zone-dmz"]).toBeLessThanOrEqual(r.policyMap.budget);
    const denies = spec(r, "fos1-zone-dmz").ingressDeny!;
    const types = denies.flatMap((d) => ((d.icmps as { fields: { type: number }[] }[] | undefined) ?? []).flatMap((i) => i.fields.map((f) => f.type)));
    expect([...new Set(types)].sort((a, b) => a - b)).toEqual([8, 13, 42]);
    expect(statusOf(r, "FirewallZone/dmz").notes.join()).toContain("its denies are narrowed to what its own allows admit");
    // The lan side keeps its denies whole: they fit.
    expect(spec(r, "fos1-zone-lan").egressDeny).toBeUndefined();
    expectValidCiliumObjects(r.objects);
  });

  test("an object too large for the API server is split into parts with the same selector", () => {
    const r = translate(router("{}", ...manyPorts(120, ", destinations: [203.0.113.0/24]")), { maxObjectBytes: 3000 });
    const parts = r.objects.filter((o) => o.metadata.name.startsWith("fos1-zone-lan"));
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.map((p) => p.metadata.name)).toContain("fos1-zone-lan-2");
    for (const p of parts) expect((p.spec as Record<string, unknown>).endpointSelector).toEqual((parts[0]!.spec as Record<string, unknown>).endpointSelector);
    expectValidCiliumObjects(r.objects);
  });
});

describe("zones, VLANs and the router as Cilium sees them", () => {
  test("the internet is the zone with the DHCP client: everything no other zone claims", () => {
    const r = translate(router("{}", rule("out", "{fromZone: lan, toZone: wan, action: allow}")));
    const out = spec(r, "fos1-zone-lan").egress!.find((e) => zoneOf(e, "to").includes("wan"))!;
    expect(cidrsOf(out, "to")).toEqual([{ cidr: "0.0.0.0/0", except: ["172.16.0.0/24", "192.168.10.0/24", "192.168.99.0/24"] }]);
  });

  test("the seed's VLANPolicy: VLAN 10's pods reach VLAN 20 on tcp/80 only; zone policies leave VLAN pods to it", () => {
    const r = translate(objectsOf(readFileSync(join(GOLDEN, "seed.yaml"), "utf8")));
    const toMedia = spec(r, "fos1-vlan-10").egress!.find((e) => (e.toEndpoints as { matchLabels?: Record<string, string> }[] | undefined)?.some((s) => s.matchLabels?.["fos1.io/vlan"] === "20"))!;
    expect(portsOf(toMedia)).toEqual([{ port: "80", protocol: "TCP" }]);
    expect(cidrsOf(toMedia, "to")).toEqual([{ cidr: "192.168.20.0/24" }]);
    expect((spec(r, "fos1-zone-lan").endpointSelector as unknown as Rule).matchExpressions).toEqual([{ key: "fos1.io/vlan", operator: "NotIn", values: ["10", "20"] }]);
    expect(statusOf(r, "VLANPolicy/iot-to-media").placements.find((p) => p.target === "cilium")!.objects).toEqual(["CiliumClusterwideNetworkPolicy/fos1-vlan-10", "CiliumClusterwideNetworkPolicy/fos1-vlan-20"]);
  });

  test("the host policy selects router nodes by fos1's own label and leaves the router's own output alone", () => {
    const r = translate(router("{}"));
    const host = spec(r, "fos1-host") as unknown as Record<string, unknown>;
    expect(host.nodeSelector).toEqual({ matchLabels: { "fos1.io/role": "router" } });
    expect(host.enableDefaultDeny).toEqual({ ingress: true, egress: false });
    expect(host.egress).toBeUndefined();
  });
});

describe("the controller never cuts management (the boot configs' management networks, from the router nodes)", () => {
  test("a pod's own zone or VLAN label counts only in a namespace an admin labelled fos1.io/pod-zones=true", () => {
    const r = translate(router("{}"));
    const selectors: Record<string, string>[] = [];
    JSON.stringify(r.objects, (key, v: unknown) => {
      if ((key === "endpointSelector" || key === "matchLabels") && v && typeof v === "object") {
        const labels = ((v as { matchLabels?: Record<string, string> }).matchLabels ?? v) as Record<string, string>;
        if (labels["fos1.io/zone"] || labels["fos1.io/vlan"]) selectors.push(labels);
      }
      return v;
    });
    expect(selectors.length).toBeGreaterThan(3);
    for (const labels of selectors) expect(labels["k8s:io.cilium.k8s.namespace.labels.fos1.io/pod-zones"]).toBe("true");
  });

  // A cluster object set that knows nothing of the management network: the router's own boot
  // config has it on eth3 (its agent writes 192.168.99.0/24 on its Node).
  const noManagementZone =
    doc("NetworkInterface", "wan", "{device: eth0, dhcp: {v4: true}, zone: wan}") + doc("NetworkInterface", "lan", "{device: eth1, addresses: [192.168.10.1/24], zone: lan}") + zone("wan") + zone("lan");
  const MANAGEMENT = ["192.168.99.0/24"];

  test("the host policy admits the management ports and ping from them, though no cluster object names them", () => {
    const r = translate(objectsOf(noManagementZone), { managementNetworks: MANAGEMENT });
    expect(r.refused).toEqual([]);
    const ingress = spec(r, "fos1-host").ingress!;
    const fromManagement = ingress.filter((rule) => cidrsOf(rule, "from").some((c) => c.cidr === "192.168.99.0/24"));
    expect(fromManagement.flatMap(portsOf).map((p) => `${p.protocol}/${p.port}${p.endPort ? `-${p.endPort}` : ""}`).sort()).toEqual(["TCP/10250", "TCP/2379-2380", "TCP/50000-50001", "TCP/6443"]);
    expect(fromManagement.some((rule) => JSON.stringify(rule.icmps ?? []).includes('"type":8'))).toBe(true);
    // Without them (a controller that has heard from no router yet) nothing is pinned.
    const without = spec(translate(objectsOf(noManagementZone)), "fos1-host").ingress ?? [];
    expect(without.some((rule) => cidrsOf(rule, "from").some((c) => c.cidr === "192.168.99.0/24"))).toBe(false);
  });

  test("a set whose deny toward the router would close a management port to those networks is refused, naming the rule, and nothing is generated", () => {
    const deny = rule("no-api", "{fromZone: wan, toZone: host, protocol: tcp, ports: [6443, 8443], action: deny}");
    const r = translate(objectsOf(noManagementZone + deny), { managementNetworks: MANAGEMENT });
    expect(r.objects).toEqual([]);
    expect(r.refused.map((x) => x.object)).toEqual(["FirewallRule/no-api"]);
    expect(r.refused[0]!.reason).toContain("would cut the management path: tcp 6443 from the management networks of the router nodes' boot configs (192.168.99.0/24)");
    // The same deny, kept away from the management networks by a zone of their own, is fine.
    const withManagement = translate(objectsOf(noManagementZone + doc("NetworkInterface", "mgmt", "{device: eth3, addresses: [192.168.99.1/24], zone: mgmt}") + zone("mgmt", "{management: true}") + deny), { managementNetworks: MANAGEMENT });
    expect(withManagement.refused).toEqual([]);
  });
});

describe("NATPolicy: the egress gateway for zone pods, nftables for the rest", () => {
  test("the default config's masquerade covers the pods of the zones inside its sources", () => {
    const r = translate(objectsOf(readFileSync(join(repo, "src/api/default-config.yaml"), "utf8")));
    const gw = spec(r, "fos1-nat-masquerade-lans") as unknown as Record<string, unknown>;
    expect(gw.selectors).toEqual(["guest", "lan", "mgmt"].map((z) => ({ podSelector: { matchLabels: { "fos1.io/zone": z } }, namespaceSelector: { matchLabels: { "fos1.io/pod-zones": "true" } } })));
    expect(gw.egressGateway).toEqual({ nodeSelector: { matchLabels: { "fos1.io/role": "router" } }, interface: "uplink" });
    expect(gw.excludedCIDRs).toEqual(["192.168.10.0/24", "192.168.20.0/24", "192.168.99.0/24"]);
    expect(statusOf(r, "NATPolicy/masquerade-lans").placements.map((p) => p.target)).toEqual(["nftables", "cilium"]);
  });

  test("SNAT uses the address; NAT66, NPTv6 and port forwards stay in nftables and say why", () => {
    const nat = (name: string, body: string) => doc("NATPolicy", name, body);
    const r = translate(
      objectsOf(
        ROUTER.replace("{device: eth1, addresses: [192.168.10.1/24], zone: lan}", "{device: eth1, addresses: [192.168.10.1/24, 'fd00:10::1/64'], zone: lan}") +
          zone("lan") +
          nat("snat", "{type: snat, interface: wan, sources: [192.168.10.0/24], toAddress: 198.51.100.7}") +
          nat("nat66", "{type: masquerade, interface: wan, sources: ['fd00::/8'], ipv6: true}") +
          nat("npt", "{type: nptv6, interface: wan, internalPrefix: 'fd00:10::/64', externalPrefix: '2001:db8:10::/64'}") +
          nat("fwd", "{type: dnat, interface: wan, forwards: [{protocol: tcp, port: 443, to: 192.168.10.5}]}"),
      ),
    );
    expect((spec(r, "fos1-nat-snat") as unknown as Record<string, Record<string, unknown>>).egressGateway!.egressIP).toBe("198.51.100.7");
    for (const [ref, why] of [["NATPolicy/nat66", "IPv4 only"], ["NATPolicy/npt", "IPv4 only"], ["NATPolicy/fwd", "hosts that are not pods"]] as const) {
      expect(statusOf(r, ref).state).toBe("node-only");
      expect(statusOf(r, ref).placements[0]!.detail).toContain(why);
    }
    expectValidCiliumObjects(r.objects);
  });
});

describe("DPIProfile: Cilium L7 where it can, Suricata for the rest", () => {
  const dpi = (name: string, body: string) => doc("DPIProfile", name, body, "security.fos1.io");
  const base = (...extra: string[]) => router("{}", rule("out", "{fromZone: lan, toZone: wan, action: allow}"), ...extra);

  test("the seed's profile: HTTP on tcp/80 must be HTTP for every zone's pods; bittorrent to the IDS", () => {
    const r = translate(objectsOf(readFileSync(join(GOLDEN, "seed.yaml"), "utf8")));
    const http = spec(r, "fos1-zone-lan").egress!.find((e) => (e.toPorts as { rules?: unknown }[] | undefined)?.some((t) => t.rules))!;
    expect(http.toPorts).toEqual([{ ports: [{ port: "80", protocol: "TCP" }], rules: { http: [{}] } }]);
    const ids = r.objects.find((o) => o.kind === "ConfigMap")!;
    expect(ids.metadata).toMatchObject({ name: "fos1-ids-detect-web-traffic", namespace: "fos1-system" });
    const rules = ids.data!["fos1-detect-web-traffic.rules"]!;
    expect(rules).toMatch(/^drop bittorrent-dht any any -> any any \(msg:"fos1 DPIProfile\/detect-web-traffic: block bittorrent"; sid:1\d{6}; rev:1;\)$/m);
    expect(rules).toContain('content:"|13|BitTorrent protocol"; depth:20;');
    expect(ids.data!["app-layer.yaml"]).toContain("    bittorrent-dht:\n      enabled: yes\n");
  });

  test("a domain allow list becomes Cilium DNS rules on port 53 (kube-dns included); blocked names become Suricata drops scoped to the zone", () => {
    const r = translate(base(dpi("names", "{applications: [dns], zones: [lan], domains: {allow: [example.com, '*.example.org'], block: [ads.example.net, '*.tracker.example']}}")));
    const dns = spec(r, "fos1-zone-lan").egress!.filter((e) => (e.toPorts as { rules?: { dns?: unknown } }[] | undefined)?.some((t) => t.rules?.dns));
    expect(dns.length).toBeGreaterThan(0);
    for (const e of dns) expect((e.toPorts as { rules: unknown }[])[0]!.rules).toEqual({ dns: [{ matchPattern: "*.example.org" }, { matchName: "example.com" }] });
    expect(dns.flatMap(portsOf).map((p) => `${p.protocol}/${p.port}`).sort()).toContain("UDP/53");
    expect(dns.some((e) => (e.toEndpoints as Rule[] | undefined)?.some((s) => JSON.stringify(s).includes("DoesNotExist")))).toBe(true);
    expect(r.objects.some((o) => o.metadata.name === "fos1-zone-dmz" && JSON.stringify(o).includes('"dns"'))).toBe(false);
    const rules = r.objects.find((o) => o.kind === "ConfigMap")!.data!["fos1-names.rules"]!;
    expect(rules).toContain('drop dns [192.168.10.0/24] any -> any any (msg:"fos1 DPIProfile/names: block DNS name ads.example.net"; dns.query; content:"ads.example.net"; nocase; startswith; endswith;');
    expect(rules).toContain('content:".tracker.example"; nocase; endswith;');
    expectValidCiliumObjects(r.objects);
  });

  test("an allowed application Cilium cannot inspect raises an IDS alert when something else uses its port; a disabled profile applies nothing", () => {
    const r = translate(base(dpi("tls", "{applications: [https], actions: {allow: [https]}}"), dpi("off", "{enabled: false, applications: [http], actions: {allow: [http]}}")));
    expect(r.objects.find((o) => o.metadata.name === "fos1-ids-tls")!.data!["fos1-tls.rules"]).toContain("alert tcp any any -> any 443 (msg:\"fos1 DPIProfile/tls: traffic to port 443 is not https\"; flow:to_server,established; app-layer-protocol:!tls;");
    expect(statusOf(r, "DPIProfile/off")).toMatchObject({ state: "disabled", placements: [] });
    expect(r.objects.some((o) => o.metadata.name === "fos1-ids-off")).toBe(false);
    expect(JSON.stringify(r.objects.filter((o) => o.kind !== "ConfigMap"))).not.toContain('"http":[{}]');
  });
});

describe("fos1 translate (the CLI)", () => {
  const seed = join(GOLDEN, "seed.yaml");

  test("prints the objects as YAML for kubectl, after what went where", async () => {
    const r = await fos1(["translate", "-f", seed]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toStartWith(`# fos1 translate -f ${seed}: 9 object(s); what went where:\n# FirewallZone/wan (translated)`);
    expect(parseAllDocuments(r.stdout).map((d) => (d.toJS() as KubeObject).kind)).toEqual([...Array(7).fill("CiliumClusterwideNetworkPolicy"), "CiliumEgressGatewayPolicy", "ConfigMap"]);
  });

  test("-o json: objects, status and policy-map counts", async () => {
    const r = await fos1(["translate", "-f", seed, "-o", "json"]);
    expect(r.exitCode).toBe(0);
    const out = JSON.parse(r.stdout) as { objects: KubeObject[]; status: { object: string }[]; policyMap: { budget: number } };
    expect(out.objects).toHaveLength(9);
    expect(out.status.map((s) => s.object)).toContain("DPIProfile/detect-web-traffic");
    expect(out.policyMap.budget).toBe(12288);
  });

  test("a config that cannot be translated prints nothing and exits 2 with the reason", async () => {
    const file = join(import.meta.dir, "..", "..", ".cache", "translate-refused.yaml");
    await Bun.write(file, ROUTER + zone("lan", "{forward: accept}") + rule("web", "{fromZone: lan, toZone: wan, protocol: tcp, ports: [443], action: allow, priority: 10}") + rule("rest", "{fromZone: lan, toZone: wan, action: deny, priority: 20}"));
    const r = await fos1(["translate", "-f", file]);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe("");
    expect(logMessages(r)).toContain("1 object(s) cannot be translated for Cilium; nothing was generated:\n  FirewallRule/rest: this deny of every protocol");
  });

  test("bad input: an invalid config, an unknown output format, a policy-map size Cilium does not take", async () => {
    const bad = await fos1(["translate", "-f", join(repo, "README.md")]);
    expect(bad.exitCode).toBe(2);
    for (const [args, message] of [
      [["-o", "text"], '-o must be "yaml" or "json", not "text"'],
      [["--policy-map-max", "10"], "--policy-map-max must be Cilium's bpf.policyMapMax, an integer from 1024 to 65536"],
    ] as const) {
      const r = await fos1(["translate", "-f", seed, ...args]);
      expect(r.exitCode).toBe(2);
      expect(logMessages(r)).toContain(message);
    }
  });
});
