// fos1 objects → Cilium resources: pure and deterministic (the same objects always give the same
// output, byte for byte). `fos1 translate` prints it; the controller applies it. Its parts:
//   topology.ts  what Cilium can know of zones and VLANs (labels, networks, the internet)
//   subjects.ts  who each policy protects; pair.ts ordered rules → unordered allows/denies
//   dpi.ts       DPIProfile → L7 rules and the IDS;   nat.ts NATPolicy → egress gateway
//   render.ts    merging into the fewest objects;     policy-map.ts Cilium's map budget
// Every generated object carries app.kubernetes.io/managed-by=fos1 and the owner labels
// fos1.io/owner-kind / fos1.io/owner-name, so the controller can find what is its own and
// delete what no fos1 object wants any more. Input: objects that passed validation.
import type { LoadedObject } from "../../api/load";
import type { ConfigObject } from "../../api/kinds";
import type { DPIProfileT } from "../../api/schema/dpi";
import { applyL7, idsConfig, zoneL7 } from "./dpi";
import { translateNat } from "./nat";
import { budgetOf, DEFAULT_POLICY_MAP_MAX, policyMapEntries, PrefixUniverse } from "./policy-map";
import { MAX_OBJECT_BYTES, mergeSubject, policyParts } from "./render";
import { narrowDenies } from "./pair";
import { buildSubjects, ruleNotes } from "./subjects";
import { topology } from "./topology";

export { DEFAULT_POLICY_MAP_MAX, budgetOf } from "./policy-map";

/** Where the IDS ConfigMaps live (the controller's namespace). */
export const FOS1_NAMESPACE = "fos1-system";
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const OWNER_KIND_LABEL = "fos1.io/owner-kind";
export const OWNER_NAME_LABEL = "fos1.io/owner-name";

export interface TranslateOptions {
  /** Cilium's bpf.policyMapMax on the cluster (default 16 384); fos1 uses 3/4 of it. */
  policyMapMax?: number;
  namespace?: string;
  maxObjectBytes?: number;
  /**
   * The management networks of the router nodes' boot configs (their agents write them on
   * their Node): the host policy always admits the management ports from them, and a set of
   * objects whose denies would close those ports is refused.
   */
  managementNetworks?: string[];
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

export type Target = "cilium" | "nftables" | "ids";

export interface Placement {
  target: Target;
  detail: string;
  /** "Kind/name" of the generated objects that carry it. */
  objects: string[];
}

export interface ObjectStatus {
  /** "Kind/name" of the fos1 object. */
  object: string;
  /** translated: (also) enforced by generated objects; node-only: the node's nftables alone; disabled; refused: nothing could be generated. */
  state: "translated" | "node-only" | "disabled" | "refused";
  placements: Placement[];
  notes: string[];
  reason?: string;
}

export interface Refusal {
  object: string;
  reason: string;
}

export interface TranslationResult {
  /** Empty when anything was refused: a partial translation could allow more than the config does. */
  objects: KubeObject[];
  status: ObjectStatus[];
  refused: Refusal[];
  /** Policy-map entries each policy needs, and the budget they were held to. */
  policyMap: { budget: number; entries: Record<string, number> };
}

const TRANSLATED_KINDS = ["FirewallZone", "FirewallRule", "VLANPolicy", "NATPolicy", "DPIProfile"];

const labels = (kind: string, name: string) => ({ [MANAGED_BY_LABEL]: "fos1", [OWNER_KIND_LABEL]: kind, [OWNER_NAME_LABEL]: name });
const objRef = (o: KubeObject) => `${o.kind}/${o.metadata.name}`;

function l7Detail(p: DPIProfileT): string {
  const allow = p.spec.actions?.allow ?? [];
  const parts = [
    allow.includes("http") && "HTTP on tcp/80 must be HTTP",
    (allow.includes("dns") || p.spec.domains?.allow) && `DNS on port 53 goes through Cilium's DNS proxy${p.spec.domains?.allow ? `, which answers only for ${p.spec.domains.allow.join(", ")}` : ""}`,
  ].filter(Boolean);
  return `L7 rules on the egress of the pods of ${p.spec.zones ? `zone${p.spec.zones.length === 1 ? "" : "s"} ${p.spec.zones.join(", ")}` : "every zone"}: ${parts.join("; ")}`;
}

export function translate(values: ConfigObject[], options: TranslateOptions = {}): TranslationResult {
  const loaded: LoadedObject<ConfigObject>[] = values.map((value, i) => ({ source: { file: "<translate>", document: i + 1 }, ref: `${value.kind}/${value.metadata.name}`, value }));
  const topo = topology(loaded);
  const notes = topo.notes;
  const note = (ref: string, text: string) => {
    const list = notes.get(ref) ?? [];
    if (!list.includes(text)) notes.set(ref, [...list, text]);
  };
  ruleNotes(topo, note);
  const refused: Refusal[] = [];

  // Pod and host policies.
  const built = buildSubjects(topo, note, options.managementNetworks ?? []);
  for (const p of built.problems) refused.push({ object: p.ref, reason: p.message });
  const profiles = values.filter((v): v is DPIProfileT => v.kind === "DPIProfile");
  const l7 = zoneL7(profiles, topo);
  const subjects = built.subjects.map((s) => (s.zone && l7.has(s.zone) ? applyL7(s, l7.get(s.zone)!) : s));
  let rendered = subjects.map(mergeSubject);
  const universe = PrefixUniverse.of(rendered);
  const budget = budgetOf(options.policyMapMax ?? DEFAULT_POLICY_MAP_MAX);
  // A policy over budget gets its denies narrowed to what its allows admit (same verdicts on a
  // default-deny endpoint) before anything is refused.
  rendered = rendered.map((r, i) => {
    if (policyMapEntries(r, universe) <= budget) return r;
    const s = subjects[i]!;
    const narrowed = mergeSubject({
      ...s,
      ingress: { ...s.ingress, denies: narrowDenies(s.ingress.denies, s.ingress.admitted) },
      egress: { ...s.egress, denies: narrowDenies(s.egress.denies, s.egress.admitted) },
    });
    note(`${s.owner.kind}/${s.owner.name}`, `${s.name}: its denies are narrowed to what its own allows admit, to fit the policy map (the same verdicts on its endpoints; only allows of policies that are not fos1's are no longer overridden)`);
    return narrowed;
  });
  const entries: Record<string, number> = {};
  const placed = new Map<string, Set<string>>(); // fos1 ref → generated objects
  const place = (ref: string, obj: string) => placed.set(ref, (placed.get(ref) ?? new Set()).add(obj));
  const objects: KubeObject[] = [];
  for (const r of rendered) {
    const n = policyMapEntries(r, universe);
    entries[r.subject.name] = n;
    if (n > budget) {
      const owner = `${r.subject.owner.kind}/${r.subject.owner.name}`;
      const involved = [...new Set(Object.values(r.items).flatMap((items) => items.flatMap((i) => i.sources)))].sort();
      const reason = `${r.subject.name} would need about ${n} policy-map entries on each endpoint it selects, more than fos1's budget of ${budget} (3/4 of bpf.policyMapMax ${options.policyMapMax ?? DEFAULT_POLICY_MAP_MAX}): merge port lists, use fewer or larger CIDRs, or raise bpf.policyMapMax and pass it (--policy-map-max)`;
      for (const ref of involved.length ? involved : [owner]) refused.push({ object: ref, reason });
      continue;
    }
    for (const part of policyParts(r, options.maxObjectBytes ?? MAX_OBJECT_BYTES)) {
      const obj: KubeObject = { apiVersion: "cilium.io/v2", kind: "CiliumClusterwideNetworkPolicy", metadata: { name: part.name, labels: labels(r.subject.owner.kind, r.subject.owner.name) }, spec: part.spec };
      objects.push(obj);
      for (const ref of part.sources) place(ref, objRef(obj));
      place(`${r.subject.owner.kind}/${r.subject.owner.name}`, objRef(obj));
    }
  }

  // NAT: egress gateway policies for pods; the rest is nftables'.
  const nat = new Map(topo.fw.nat.map((n) => [n.ref, translateNat(n, topo)]));
  for (const t of nat.values()) {
    for (const text of t.notes) note(t.ref, text);
    if (!t.egressGateway) continue;
    const name = t.ref.split("/")[1]!;
    const obj: KubeObject = { apiVersion: "cilium.io/v2", kind: "CiliumEgressGatewayPolicy", metadata: { name: `fos1-nat-${name}`, labels: labels("NATPolicy", name) }, spec: t.egressGateway };
    objects.push(obj);
    place(t.ref, objRef(obj));
  }

  // DPI: the IDS configuration, one ConfigMap per enabled profile.
  const ids = new Map<string, { summary: string[]; object: string }>();
  for (const p of profiles.filter((x) => x.spec.enabled !== false)) {
    const ref = `DPIProfile/${p.metadata.name}`;
    const c = idsConfig(p, topo);
    for (const text of c.notes) note(ref, text);
    const obj: KubeObject = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: `fos1-ids-${p.metadata.name}`, namespace: options.namespace ?? FOS1_NAMESPACE, labels: labels("DPIProfile", p.metadata.name) },
      data: { [`fos1-${p.metadata.name}.rules`]: c.rules, "app-layer.yaml": c.appLayer },
    };
    objects.push(obj);
    ids.set(ref, { summary: c.summary, object: objRef(obj) });
  }

  const refusalOf = new Map<string, Refusal>();
  for (const r of refused) if (!refusalOf.has(r.object)) refusalOf.set(r.object, r);
  const status = values
    .filter((v) => TRANSLATED_KINDS.includes(v.kind))
    .map((v): ObjectStatus => {
      const ref = `${v.kind}/${v.metadata.name}`;
      const placements: Placement[] = [];
      const cilium = [...(placed.get(ref) ?? [])].sort();
      switch (v.kind) {
        case "FirewallZone":
        case "FirewallRule":
        case "VLANPolicy":
          placements.push({ target: "nftables", detail: "traffic the router forwards between its networks and traffic to the router, at boot and always (fos1 agent)", objects: [] });
          if (cilium.length) placements.push({ target: "cilium", detail: "pod traffic, and traffic to the router once Cilium's host firewall runs", objects: cilium });
          break;
        case "NATPolicy": {
          const t = nat.get(ref)!;
          placements.push({ target: "nftables", detail: t.nftables, objects: [] });
          if (cilium.length) placements.push({ target: "cilium", detail: `pods of zone${t.zones.length === 1 ? "" : "s"} ${t.zones.join(", ")} leave through the router's egress gateway`, objects: cilium });
          break;
        }
        case "DPIProfile": {
          if (cilium.length) placements.push({ target: "cilium", detail: l7Detail(v as DPIProfileT), objects: cilium });
          const i = ids.get(ref);
          if (i) placements.push({ target: "ids", detail: `Suricata ${i.summary.join("; ")}`, objects: [i.object] });
          break;
        }
      }
      const refusal = refusalOf.get(ref);
      const state = refusal ? "refused" : v.kind === "DPIProfile" && (v as DPIProfileT).spec.enabled === false ? "disabled" : cilium.length || ids.has(ref) ? "translated" : "node-only";
      return { object: ref, state, placements, notes: notes.get(ref) ?? [], ...(refusal ? { reason: refusal.reason } : {}) };
    });

  if (refused.length) {
    // Nothing is emitted: without the refused parts the result could allow more than the config.
    const why = `nothing was generated: ${[...new Set(refused.map((r) => r.object))].join(", ")} could not be translated`;
    for (const s of status) {
      s.placements = s.placements.map((p) => ({ ...p, objects: p.target === "nftables" ? p.objects : [] }));
      if (s.state !== "refused") s.notes = [...s.notes, why];
    }
    return { objects: [], status, refused, policyMap: { budget, entries } };
  }
  const order = ["CiliumClusterwideNetworkPolicy", "CiliumEgressGatewayPolicy", "ConfigMap"];
  objects.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind) || a.metadata.name.localeCompare(b.metadata.name));
  return { objects, status, refused, policyMap: { budget, entries } };
}
