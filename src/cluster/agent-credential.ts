// The agent's cluster credential on a Talos node, scoped to its own RBAC, with no long-lived
// Secret: once, the cluster's admin kubeconfig (machined's, fetched by the caller) mints a token
// of the fos1-agent service account (TokenRequest) and is dropped; from then on only that token
// is used, and at 80% of its lifetime the agent asks for the next one with the token itself
// (its Role allows exactly that). A token refused, or expired anyway (the API unreachable for its
// whole lifetime), sends it back to machined once. Every failure is logged and retried with
// backoff; nothing waits on it, so the agent keeps running on its boot config meanwhile.
// Neither the admin kubeconfig nor a token is ever logged or written.
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../base/log";
import { Backoff, type BackoffPolicy } from "../base/backoff";
import { sleep as sleepFor } from "../base/sleep";
import { KubeError } from "./kube-api";
import { toKubeError } from "./kube-client";
import {
  AGENT_ACCOUNT,
  clusterOf,
  CredentialError,
  DEFAULT_TOKEN_SECONDS,
  issuedToken,
  renewalTime,
  rotatingTokenKubeConfig,
  sameEndpoint,
  tokenRequest,
  type ClusterEndpoint,
  type IssuedToken,
  type ServiceAccountRef,
} from "./agent-token";

export interface AgentCredentialOptions {
  /** The cluster's admin kubeconfig as text (machined's Kubeconfig rpc): used for one TokenRequest, then dropped. */
  adminKubeconfig: () => Promise<string>;
  log: Logger;
  account?: ServiceAccountRef;
  lifetimeSeconds?: number;
  /** Between failed attempts (default 2 s doubling to 5 min: a worker node never gets a kubeconfig). */
  backoff?: BackoffPolicy;
  /** The clock tokens are timed by, and the wait on it (tests move their own). */
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<boolean>;
}

export class AgentCredential {
  private readonly abort = new AbortController();
  private readonly account: ServiceAccountRef;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<boolean>;
  private token: IssuedToken | undefined;
  private endpoint: ClusterEndpoint | undefined;
  private kc: KubeConfig | undefined;
  private loop: Promise<void> | undefined;
  private settleFirst!: (kc: KubeConfig | undefined) => void;
  /** Resolves with the agent's KubeConfig once it holds its first token (undefined when stopped before). */
  readonly kubeConfig = new Promise<KubeConfig | undefined>((resolve) => (this.settleFirst = resolve));
  /** Times the admin kubeconfig was asked for. */
  adminFetches = 0;

  constructor(private readonly options: AgentCredentialOptions) {
    this.account = options.account ?? AGENT_ACCOUNT;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? sleepFor;
    tokenRequest(this.lifetimeSeconds); // a bad lifetime fails here, not at the first request
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.settleFirst(undefined);
    await this.loop;
  }

  /** When the token held now expires (ms since the epoch), if there is one. */
  get expiresAt(): number | undefined {
    return this.token?.expiresAt;
  }

  private get lifetimeSeconds(): number {
    return this.options.lifetimeSeconds ?? DEFAULT_TOKEN_SECONDS;
  }

  private async run(): Promise<void> {
    const { log } = this.options;
    const signal = this.abort.signal;
    const backoff = new Backoff(this.options.backoff ?? { initialMs: 2_000, maxMs: 300_000 });
    while (!signal.aborted) {
      const held = this.token;
      const valid = held !== undefined && this.now() < held.expiresAt;
      if (valid && this.now() < renewalTime(held)) {
        if (!(await this.sleep(renewalTime(held) - this.now(), signal))) return;
        continue;
      }
      try {
        if (valid) await this.renew();
        else {
          if (held) log.warn("the agent's token expired before it could be renewed; asking machined for the cluster's kubeconfig again", { expiredAt: new Date(held.expiresAt).toISOString() });
          await this.mint();
        }
        backoff.reset();
        continue;
      } catch (err) {
        if (signal.aborted) return;
        if (valid && err instanceof CredentialError && err.status === 401) {
          // Refused before its time (the account was deleted and made again): start over.
          log.warn("the API server refused the agent's token; asking machined for the cluster's kubeconfig again", { error: err });
          this.token = undefined;
          continue;
        }
        const delay = backoff.next();
        // Not past the token's expiry: from then on only machined can help.
        const wait = valid ? Math.min(delay, Math.max(0, held.expiresAt - this.now())) : delay;
        log.warn(valid ? "renewing the agent's token failed; it stays in use, trying again" : "no cluster credential yet; the agent runs on its boot config and tries again", {
          error: err,
          retryInSeconds: Math.round(wait / 1000),
        });
        if (!(await this.sleep(wait, signal))) return;
      }
    }
  }

  /** The first token, or one after the last expired: the admin kubeconfig, used once. */
  private async mint(): Promise<void> {
    this.adminFetches++;
    let text: string;
    try {
      text = await this.options.adminKubeconfig();
    } catch (err) {
      throw new CredentialError(`no kubeconfig from machined: ${(err as Error).message}`);
    }
    const admin = new KubeConfig();
    try {
      admin.loadFromString(text);
    } catch {
      // The parser's message quotes the text, which holds the admin's key: say only what it is.
      throw new CredentialError("the kubeconfig from machined is not valid YAML");
    }
    const endpoint = clusterOf(admin, "the kubeconfig from machined");
    const token = await this.request(admin, "the cluster's admin kubeconfig");
    if (this.endpoint && !sameEndpoint(this.endpoint, endpoint))
      this.options.log.warn("the cluster's address or CA changed since the agent started; its clients keep the first until the agent restarts", { was: this.endpoint.server, now: endpoint.server });
    this.endpoint ??= endpoint;
    this.adopt(token, "through machined");
  }

  /** The next token, asked for with the current one. */
  private async renew(): Promise<void> {
    this.adopt(await this.request(this.kc!, "its own token"), "with its own token");
  }

  private adopt(token: IssuedToken, how: string): void {
    this.token = token;
    if (!this.kc) {
      this.kc = rotatingTokenKubeConfig(this.endpoint!, this.account.name, () => this.token?.token);
      this.settleFirst(this.kc);
    }
    this.options.log.info(`got a token for service account ${this.account.namespace}/${this.account.name} ${how}`, {
      expires: new Date(token.expiresAt).toISOString(),
      renewAt: new Date(renewalTime(token)).toISOString(),
    });
  }

  private async request(kc: KubeConfig, credential: string): Promise<IssuedToken> {
    const { namespace, name } = this.account;
    const issuedAt = this.now();
    let answer;
    try {
      answer = await kc.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({ namespace, name, body: tokenRequest(this.lifetimeSeconds) });
    } catch (err) {
      const e = toKubeError(err);
      const status = e instanceof KubeError ? e.status : undefined;
      const hint = status === 403 ? ` (the agent's Role must allow create on serviceaccounts/token named ${name} in ${namespace}: apply deploy/manifests/fos1-agent-rbac.yaml)` : "";
      throw new CredentialError(`the API server at ${kc.getCurrentCluster()?.server} did not issue a token for ${namespace}/${name} with ${credential}: ${e.message}${hint}`, status);
    }
    return issuedToken(answer.status, issuedAt);
  }
}
