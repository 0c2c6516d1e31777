// The agent's second source of config: the node-local objects in the cluster meant for this
// node (cluster-merge.ts says which and how they merge over the boot config). Informers keep
// the objects; the Node's labels, which selectors are matched against, are read again every
// so often (the agent's RBAC allows reading its Node, not watching every node).
//
// `fos1 agent --kubeconfig` starts one (`--cluster talos` through credentialed-source.ts); the agent (agent.ts) applies
// mergeOverBoot(fileText, file, source.selected().objects) and converges again on onChange.
import type { ConfigObject } from "../api/kinds";
import type { Logger } from "../base/log";
import type { BackoffPolicy } from "../base/backoff";
import { sleep } from "../base/sleep";
import { toConfigValue } from "./cluster-objects";
import { Informer } from "./informer";
import type { KubeApi, KubeObject } from "./kube-api";
import { MANAGEMENT_ANNOTATION, managementAnnotation } from "./management-networks";

/** The agent's name as a field manager of what it writes on its Node. */
const AGENT_FIELD_MANAGER = "fos1-agent";
import { FOS1_RESOURCES, NODE } from "./resources";
import { NODE_LOCAL_KINDS } from "../api/kinds";
import { selectForNode } from "../agent/cluster-merge";

export interface ClusterSourceOptions {
  api: KubeApi;
  /** This node's name (the Node object). */
  node: string;
  log: Logger;
  backoff?: BackoffPolicy;
  /** How often the Node's labels are read again (default 60 s). */
  nodeRefreshMs?: number;
  /**
   * The management networks of the config in force (its boot config's: cluster objects cannot
   * change the management path), written on the Node each time it is read, for the controller.
   */
  managementNetworks?: () => string[];
}

export class ClusterSource {
  private readonly informers: Informer[];
  private readonly listeners: (() => void)[] = [];
  private readonly abort = new AbortController();
  private labels: Record<string, string> | undefined;
  private refresh: Promise<void> | undefined;
  private markLabelsRead!: () => void;
  private readonly labelsRead = new Promise<void>((resolve) => (this.markLabelsRead = resolve));

  constructor(private readonly options: ClusterSourceOptions) {
    const backoff = options.backoff ?? { initialMs: 500, maxMs: 30_000 };
    this.informers = FOS1_RESOURCES.filter((t) => (NODE_LOCAL_KINDS as readonly string[]).includes(t.kind)).map((t) => new Informer(options.api, t, { backoff, log: options.log }));
  }

  /** Called after any change that may change what is selected. */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    for (const i of this.informers) {
      i.onChange(() => this.changed());
      i.start();
    }
    this.refresh = this.refreshLabels();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all([...this.informers.map((i) => i.stop()), this.refresh]);
  }

  /** Resolves once every kind is listed and the Node's labels were read. */
  get synced(): Promise<void> {
    return Promise.all([...this.informers.map((i) => i.synced), this.labelsRead]).then(() => undefined);
  }

  /** The objects meant for this node now, and those left out (a bad selector). */
  selected(): ConfigObject[] {
    if (!this.labels) return [];
    const live = this.informers.flatMap((i) => i.list()).filter((o) => !o.metadata.deletionTimestamp);
    return selectForNode(live.map((o) => toConfigValue(o) as unknown as ConfigObject), this.labels);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  /** Writes this node's management networks on it, when they are known and not there yet. */
  private async annotate(o: KubeObject): Promise<void> {
    const networks = this.options.managementNetworks?.() ?? [];
    if (!networks.length) return;
    const value = managementAnnotation(networks);
    if (o.metadata.annotations?.[MANAGEMENT_ANNOTATION] === value) return;
    try {
      await this.options.api.apply(NODE, { apiVersion: "v1", kind: "Node", metadata: { name: this.options.node, annotations: { [MANAGEMENT_ANNOTATION]: value } } }, AGENT_FIELD_MANAGER);
      this.options.log.info("wrote this node's management networks on its Node, for the controller", { node: this.options.node, networks });
    } catch (err) {
      this.options.log.warn("writing this node's management networks on its Node failed; trying again at the next read", { node: this.options.node, error: err });
    }
  }

  private async refreshLabels(): Promise<void> {
    const { api, node, log } = this.options;
    while (!this.abort.signal.aborted) {
      try {
        const o = await api.get(NODE, node);
        if (!o) log.warn("this node's Node object does not exist; objects with a node selector are not taken", { node });
        if (o) await this.annotate(o);
        const labels = o?.metadata.labels ?? {};
        const before = JSON.stringify(this.labels);
        this.labels = labels;
        this.markLabelsRead();
        if (before !== JSON.stringify(labels)) this.changed();
      } catch (err) {
        log.warn("reading this node's labels failed; keeping the last ones", { node, error: err });
      }
      await sleep(this.options.nodeRefreshMs ?? 60_000, this.abort.signal);
    }
  }
}
