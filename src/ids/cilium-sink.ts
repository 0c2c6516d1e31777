// Blocks in the cluster: one CiliumClusterwideNetworkPolicy, fos1-ids-blocks, that denies
// ingress from every blocked source to every pod and to the router nodes (the host firewall,
// nodes labelled fos1.io/role=router), written through the CiliumClient's own job "ids-block"
// (server-side apply, labelled fos1's and the job's; deleted when no block is left). The
// controller converges only its four jobs, so it leaves this policy alone.
//
// The policy only adds denies: enableDefaultDeny is off both ways, or the pods it selects would
// lose every ingress no other policy allows. Each block's expiry is kept in an annotation, so a
// restarted reader removes what expired meanwhile instead of keeping it for ever. Every CIDR is
// a Cilium identity and a policy-map entry on each endpoint (../shared/cilium/FACTS.md), so the
// policy holds at most maxBlocks sources (the oldest make room for new ones); the XDP blocklist
// has room for far more.
import { Backoff } from "../base/backoff";
import type { CiliumClient } from "../cluster/cilium-client";
import type { KubeApi, KubeObject } from "../cluster/kube-api";
import { CILIUM_CLUSTERWIDE_NETWORK_POLICY } from "../cluster/resources";
import { ROLE_LABEL, ROUTER_ROLE } from "../cilium/translate/topology";
import type { Logger } from "../base/log";
import type { Block } from "./policy";
import { failedAll, type BlockSink, type ExistingBlock, type SinkResult } from "./sink";

export const IDS_BLOCK_POLICY = "fos1-ids-blocks";
export const EXPIRY_ANNOTATION = "fos1.io/ids-block-expiry";
/** Sources in the cluster policy at once: well under the policy-map budget fos1 keeps for its own policies. */
export const DEFAULT_CLUSTER_MAX_BLOCKS = 1000;

/** The deny policy for these blocks (prefix → expiry, epoch ms); null when there is none to deny. */
export function idsBlockPolicy(blocks: ReadonlyMap<string, number>): KubeObject | null {
  if (!blocks.size) return null;
  const prefixes = [...blocks.keys()].sort();
  const deny = [{ fromCIDR: prefixes }];
  const addsDeniesOnly = { ingress: false, egress: false };
  return {
    apiVersion: "cilium.io/v2",
    kind: "CiliumClusterwideNetworkPolicy",
    metadata: {
      name: IDS_BLOCK_POLICY,
      labels: {},
      annotations: { [EXPIRY_ANNOTATION]: JSON.stringify(Object.fromEntries(prefixes.map((p) => [p, new Date(blocks.get(p)!).toISOString()]))) },
    },
    specs: [
      { description: "fos1 IDS: sources Suricata alerted on, denied to pods until their block expires", endpointSelector: {}, ingressDeny: deny, enableDefaultDeny: addsDeniesOnly },
      { description: "fos1 IDS: the same sources, denied to the router nodes", nodeSelector: { matchLabels: { [ROLE_LABEL]: ROUTER_ROLE } }, ingressDeny: deny, enableDefaultDeny: addsDeniesOnly },
    ],
  };
}

/** The blocks recorded on a policy as idsBlockPolicy wrote it; throws when the annotation is not fos1's. */
export function blocksOfPolicy(policy: KubeObject): Map<string, number> {
  const text = policy.metadata.annotations?.[EXPIRY_ANNOTATION];
  const parsed: unknown = text === undefined ? {} : JSON.parse(text);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error(`${EXPIRY_ANNOTATION} is not a map of prefixes to expiry times`);
  const out = new Map<string, number>();
  for (const [prefix, iso] of Object.entries(parsed)) {
    const at = typeof iso === "string" ? Date.parse(iso) : NaN;
    if (Number.isNaN(at)) throw new Error(`${EXPIRY_ANNOTATION}: ${prefix} has no expiry time`);
    out.set(prefix, at);
  }
  return out;
}

export class CiliumSink implements BlockSink {
  readonly name = "cilium";
  private readonly blocks = new Map<string, number>();
  /** The cluster may not hold what `blocks` says (a converge failed, or expiry removed some). */
  private dirty = false;
  private lastError: string | null = null;
  private readonly backoff = new Backoff({ initialMs: 500, maxMs: 30_000 });
  /** A cluster that refused or cannot be reached is asked again with backoff, not at every tick. */
  private retryAt = 0;

  constructor(
    private readonly client: CiliumClient,
    private readonly api: KubeApi,
    private readonly log: Logger,
    private readonly maxBlocks = DEFAULT_CLUSTER_MAX_BLOCKS,
  ) {}

  async existing(now: number): Promise<ExistingBlock[]> {
    const policy = await this.api.get(CILIUM_CLUSTERWIDE_NETWORK_POLICY, IDS_BLOCK_POLICY);
    if (!policy) return [];
    try {
      for (const [prefix, at] of blocksOfPolicy(policy)) this.blocks.set(prefix, at);
    } catch (err) {
      this.log.warn("the cluster's IDS deny policy has no readable expiry times; it is replaced by this reader's blocks", { policy: IDS_BLOCK_POLICY, error: (err as Error).message });
    }
    this.dirty = true; // expired ones go at the first tick; an unreadable policy is replaced
    // Every source in this policy is the IDS's: each may be evicted.
    return [...this.blocks].filter(([, at]) => at > now).map(([prefix, expiresAt]) => ({ prefix, expiresAt, evictable: true }));
  }

  async add(blocks: Block[], now: number): Promise<SinkResult> {
    // Full: the oldest sources (the earliest expiry; every block has the same TTL) make room, as
    // the policy's own cap does, so real attackers are not refused for a storm's.
    const evicted = new Map<string, number>();
    for (const b of blocks) {
      if (!this.blocks.has(b.prefix) && this.blocks.size >= this.maxBlocks) {
        const [prefix, at] = this.oldest()!;
        this.blocks.delete(prefix);
        evicted.set(prefix, at);
      }
      this.blocks.set(b.prefix, b.expiresAt);
    }
    // A batch larger than the whole policy pushes out its own first blocks.
    const taken = blocks.filter((b) => this.blocks.has(b.prefix));
    const failed = failedAll(blocks.filter((b) => !this.blocks.has(b.prefix)), `evicted at once: the batch is larger than --cluster-max-blocks (${this.maxBlocks})`).failed;
    const error = await this.converge(now);
    if (error === null) {
      const gone = [...evicted.keys()].filter((p) => !blocks.some((b) => b.prefix === p));
      if (gone.length) this.log.info("the cluster's IDS deny policy is full (--cluster-max-blocks): its oldest sources made room", { policy: IDS_BLOCK_POLICY, evicted: gone.length, first: gone[0] });
      return { written: taken.map((b) => b.prefix), failed };
    }
    // Not in the cluster: forgotten here too, so that the source's next alert tries again; what made room is back.
    for (const b of blocks) this.blocks.delete(b.prefix);
    for (const [prefix, at] of evicted) this.blocks.set(prefix, at);
    this.dirty = true;
    return { written: [], failed: failedAll(blocks, error).failed };
  }

  /** Evicted by the policy: gone from the cluster at this tick's converge. */
  async remove(prefixes: string[]): Promise<void> {
    for (const p of prefixes) if (this.blocks.delete(p)) this.dirty = true;
  }

  private oldest(): [string, number] | undefined {
    let found: [string, number] | undefined;
    for (const e of this.blocks) if (!found || e[1] < found[1]) found = e;
    return found;
  }

  async tick(now: number): Promise<void> {
    const expired = [...this.blocks].filter(([, at]) => at <= now).map(([p]) => p);
    for (const p of expired) this.blocks.delete(p);
    if (!expired.length && !this.dirty) return;
    if (now < this.retryAt) {
      this.dirty = true;
      return;
    }
    if ((await this.converge(now)) === null && expired.length) this.log.info("IDS blocks expired and were removed from the cluster's deny policy", { prefixes: expired });
  }

  /** Makes the cluster hold exactly the current blocks; the error, or null. */
  private async converge(now: number): Promise<string | null> {
    const policy = idsBlockPolicy(this.blocks);
    let error: string | null;
    try {
      const report = await this.client.applyIdsBlocks(policy ? [policy] : []);
      error = report.failed.length ? report.failed.map((f) => `${f.ref}: ${f.error}`).join("; ") : null;
    } catch (err) {
      error = (err as Error).message;
    }
    this.dirty = error !== null;
    if (error === null) {
      if (this.lastError !== null) this.log.info("the cluster's IDS deny policy is up to date again", { policy: IDS_BLOCK_POLICY });
      this.backoff.reset();
      this.retryAt = 0;
    } else {
      if (error !== this.lastError) this.log.warn("cannot write the cluster's IDS deny policy; retrying with backoff", { policy: IDS_BLOCK_POLICY, error });
      this.retryAt = now + this.backoff.next();
    }
    this.lastError = error;
    return error;
  }
}
