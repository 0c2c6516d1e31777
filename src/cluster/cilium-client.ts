// The seed's CiliumClient: the four jobs fos1 hands to Cilium, and a fifth, the IDS's blocks
// (not the controller's). Each call is declarative — the cluster afterwards holds exactly the
// given objects for that job: each is created or updated
// with server-side apply (field manager fos1), labelled as fos1's and as that job's, and every
// object fos1 made earlier for the job that is not in the call is deleted (garbage collection
// by label, so nothing fos1 did not make is ever touched).
import { createHash } from "node:crypto";
import type { Logger } from "../base/log";
import { apiVersionOf, refOf, type KubeApi, type KubeObject, type ResourceType } from "./kube-api";
import { CILIUM_CLUSTERWIDE_NETWORK_POLICY, CILIUM_EGRESS_GATEWAY_POLICY, CONFIG_MAP, generatedResourceOf } from "./resources";

export const FIELD_MANAGER = "fos1";
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const PURPOSE_LABEL = "fos1.io/purpose";
/**
 * A digest of the object as fos1 last applied it. "Contains what we want" alone would miss a
 * field fos1 stopped setting (apply removes it); the digest catches that, and `contains` catches
 * someone else's edit of a field fos1 sets.
 */
export const DIGEST_ANNOTATION = "fos1.io/applied-digest";

export type Purpose = "network-policy" | "nat" | "vlan-routing" | "dpi" | "ids-block";

/**
 * The kinds each job produces: what the translation emits for it (every policy is a
 * CiliumClusterwideNetworkPolicy, host and pod policies alike; VLANs reach Cilium's agents
 * through its Helm values, not through objects).
 */
export const PURPOSE_KINDS: Record<Purpose, ResourceType[]> = {
  "network-policy": [CILIUM_CLUSTERWIDE_NETWORK_POLICY],
  nat: [CILIUM_EGRESS_GATEWAY_POLICY],
  "vlan-routing": [CILIUM_CLUSTERWIDE_NETWORK_POLICY],
  dpi: [CILIUM_CLUSTERWIDE_NETWORK_POLICY, CONFIG_MAP],
  "ids-block": [CILIUM_CLUSTERWIDE_NETWORK_POLICY],
};

export interface ApplyReport {
  /** Created or changed. */
  applied: string[];
  /** Already as wanted: no write. */
  unchanged: string[];
  deleted: string[];
  failed: { ref: string; error: string }[];
}

export interface CiliumClient {
  /** Firewall zones and rules: CiliumClusterwideNetworkPolicy (host and endpoint policies). */
  applyNetworkPolicy(objects: KubeObject[]): Promise<ApplyReport>;
  /** NAT that Cilium can do: CiliumEgressGatewayPolicy. */
  createNAT(objects: KubeObject[]): Promise<ApplyReport>;
  /** Inter-VLAN policy: CiliumClusterwideNetworkPolicy. */
  configureVLANRouting(objects: KubeObject[]): Promise<ApplyReport>;
  /** L7 (HTTP, DNS) policy from DPI profiles, and the IDS configuration (ConfigMaps) for the rest. */
  configureDPIIntegration(objects: KubeObject[]): Promise<ApplyReport>;
  /** Sources the IDS blocks until their TTL runs out (src/ids/cilium-sink.ts): a deny policy. Not the controller's job. */
  applyIdsBlocks(objects: KubeObject[]): Promise<ApplyReport>;
}

/** What fos1 made earlier for a job, of one resource type (the controller reads its informers' caches). */
export type ExistingObjects = (type: ResourceType, purpose: Purpose) => Promise<KubeObject[]>;

export class KubeCiliumClient implements CiliumClient {
  constructor(
    private readonly api: KubeApi,
    private readonly existing: ExistingObjects,
    private readonly log: Logger,
  ) {}

  applyNetworkPolicy(objects: KubeObject[]) {
    return this.converge("network-policy", objects);
  }

  createNAT(objects: KubeObject[]) {
    return this.converge("nat", objects);
  }

  configureVLANRouting(objects: KubeObject[]) {
    return this.converge("vlan-routing", objects);
  }

  configureDPIIntegration(objects: KubeObject[]) {
    return this.converge("dpi", objects);
  }

  applyIdsBlocks(objects: KubeObject[]) {
    return this.converge("ids-block", objects);
  }

  private async converge(purpose: Purpose, objects: KubeObject[]): Promise<ApplyReport> {
    const report: ApplyReport = { applied: [], unchanged: [], deleted: [], failed: [] };
    const kinds = PURPOSE_KINDS[purpose];
    for (const o of objects) {
      const type = generatedResourceOf(o);
      if (!kinds.includes(type)) throw new Error(`${refOf(o)}: a ${o.kind} is not a ${purpose} object (${kinds.map((k) => k.kind).join(", ")})`);
    }
    const wanted = new Set(objects.map((o) => identity(o)));
    for (const type of kinds) {
      const existing = await this.existing(type, purpose);
      const byIdentity = new Map(existing.map((o) => [identity({ ...o, apiVersion: apiVersionOf(type), kind: type.kind }), o]));
      for (const o of objects.filter((x) => generatedResourceOf(x) === type)) {
        const desired = labelled(o, purpose);
        const current = byIdentity.get(identity(o));
        if (current && contains(current, desired)) {
          report.unchanged.push(refOf(o));
          continue;
        }
        try {
          await this.api.apply(type, desired, FIELD_MANAGER);
          report.applied.push(refOf(o));
        } catch (err) {
          report.failed.push({ ref: refOf(o), error: (err as Error).message });
        }
      }
      for (const [id, o] of byIdentity) {
        if (wanted.has(id)) continue;
        const ref = refOf({ kind: type.kind, metadata: o.metadata });
        try {
          await this.api.delete(type, o.metadata.name, o.metadata.namespace);
          report.deleted.push(ref);
        } catch (err) {
          report.failed.push({ ref, error: (err as Error).message });
        }
      }
    }
    if (report.applied.length || report.deleted.length || report.failed.length)
      this.log.info("cilium objects converged", { purpose, applied: report.applied, deleted: report.deleted, failed: report.failed });
    return report;
  }
}

function identity(o: KubeObject): string {
  return `${o.apiVersion} ${refOf(o)}`;
}

/** The object as fos1 applies it: labelled fos1's and the job's, with the digest of what is applied. */
function labelled(o: KubeObject, purpose: Purpose): KubeObject {
  const withLabels = { ...o, metadata: { ...o.metadata, labels: { ...o.metadata.labels, [MANAGED_BY_LABEL]: FIELD_MANAGER, [PURPOSE_LABEL]: purpose } } };
  const digest = createHash("sha256").update(canonicalJson(withLabels)).digest("hex").slice(0, 32);
  return { ...withLabels, metadata: { ...withLabels.metadata, annotations: { ...o.metadata.annotations, [DIGEST_ANNOTATION]: digest } } };
}

function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    typeof x === "object" && x !== null && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x,
  );
}

/**
 * True when `have` already holds everything `want` sets (maps may hold more: fields the API
 * server defaulted, metadata it keeps). Lists must match element by element.
 */
export function contains(have: unknown, want: unknown): boolean {
  if (Array.isArray(want)) return Array.isArray(have) && have.length === want.length && want.every((w, i) => contains(have[i], w));
  if (typeof want === "object" && want !== null) {
    if (typeof have !== "object" || have === null || Array.isArray(have)) return false;
    return Object.entries(want).every(([k, v]) => contains((have as Record<string, unknown>)[k], v));
  }
  return have === want;
}
