// The cluster source of `fos1 agent --cluster talos`: the node's objects from the cluster, once
// the agent holds a token (agent-credential.ts). Until then it selects nothing, so the agent
// converges to its boot config alone; when the token comes, the real source starts, and its
// clients keep working across rotations (the KubeConfig reads the token at each request).
import type { ClusterObjects } from "../agent/agent";
import type { ConfigObject } from "../api/kinds";
import type { AgentCredential } from "./agent-credential";
import { ClientNodeKubeApi } from "./kube-client";
import type { KubeApi } from "./kube-api";
import type { ClusterSource } from "./node-source";

export class CredentialedClusterSource implements ClusterObjects {
  private source: ClusterSource | undefined;
  private started: Promise<void> | undefined;
  private stopped = false;
  private readonly listeners: (() => void)[] = [];

  constructor(
    private readonly credential: AgentCredential,
    /** Makes the source on the agent's API client (node-source.ts's ClusterSource). */
    private readonly makeSource: (api: KubeApi) => ClusterSource,
  ) {}

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  selected(): ConfigObject[] {
    return this.source?.selected() ?? [];
  }

  start(): void {
    this.credential.start();
    this.started ??= this.credential.kubeConfig.then((kc) => {
      if (!kc || this.stopped) return;
      const source = this.makeSource(new ClientNodeKubeApi(kc));
      for (const l of this.listeners) source.onChange(l);
      source.start();
      this.source = source;
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.credential.stop();
    await this.started;
    await this.source?.stop();
  }
}
