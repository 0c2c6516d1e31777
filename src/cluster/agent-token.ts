// The agent's service-account token, pure parts: the TokenRequest it sends, what it takes from
// the answer, when it asks for the next one, and the KubeConfig that carries whichever token is
// current. agent-credential.ts does the requests.
import { KubeConfig, type AuthenticationV1TokenRequest, type Cluster, type V1TokenRequestStatus } from "@kubernetes/client-node";
import { AGENT, NAMESPACE } from "./manifests";

export interface ServiceAccountRef {
  namespace: string;
  name: string;
}

/** The agent's own account: deploy/manifests/fos1-agent-rbac.yaml binds its role to it. */
export const AGENT_ACCOUNT: ServiceAccountRef = { namespace: NAMESPACE, name: AGENT };

/** An hour, as the kubelet asks for projected tokens: a leaked one is useless soon after. */
export const DEFAULT_TOKEN_SECONDS = 3600;
/** kube-apiserver refuses a TokenRequest for less than 10 minutes. */
export const MIN_TOKEN_SECONDS = 600;
/** As the kubelet renews projected tokens: at 80% of the lifetime, leaving a fifth for retries. */
export const RENEW_AT = 0.8;

/** A token as the API server issued it; times in ms since the epoch, by the agent's clock. */
export interface IssuedToken {
  token: string;
  issuedAt: number;
  expiresAt: number;
}

/** The cluster's address and CA: what the agent keeps of the admin kubeconfig. */
export type ClusterEndpoint = Omit<Cluster, "name">;

export class CredentialError extends Error {
  constructor(
    message: string,
    /** The API server's HTTP status, when it answered. */
    readonly status?: number,
  ) {
    super(message);
  }
}

export function tokenRequest(seconds: number): AuthenticationV1TokenRequest {
  if (!Number.isInteger(seconds) || seconds < MIN_TOKEN_SECONDS) throw new CredentialError(`a token's lifetime must be a whole number of seconds, at least ${MIN_TOKEN_SECONDS} (kube-apiserver's minimum); got ${seconds}`);
  // No audiences: the API server's own, the only one the agent talks to.
  return { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { audiences: [], expirationSeconds: seconds } };
}

/** The token of a TokenRequest's answer, asked for at `issuedAt`; a clear error when it is unusable. */
export function issuedToken(status: V1TokenRequestStatus | undefined, issuedAt: number): IssuedToken {
  if (!status?.token) throw new CredentialError("the API server's TokenRequest answer carries no token");
  const expiresAt = status.expirationTimestamp === undefined ? NaN : new Date(status.expirationTimestamp).getTime();
  if (!Number.isFinite(expiresAt)) throw new CredentialError("the API server's TokenRequest answer carries no expirationTimestamp");
  if (expiresAt <= issuedAt)
    throw new CredentialError(`the API server issued a token that expired at ${new Date(expiresAt).toISOString()}, before this node's clock (${new Date(issuedAt).toISOString()}): check the clocks`);
  return { token: status.token, issuedAt, expiresAt };
}

/** When to ask for the next token. */
export function renewalTime(t: IssuedToken): number {
  return t.issuedAt + RENEW_AT * (t.expiresAt - t.issuedAt);
}

/** The current context's cluster of a kubeconfig (address, CA); its user is not looked at. */
export function clusterOf(kc: KubeConfig, what: string): ClusterEndpoint {
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) throw new CredentialError(`${what} names no cluster server in its current context`);
  const { name: _name, ...endpoint } = cluster;
  return endpoint;
}

export function sameEndpoint(a: ClusterEndpoint, b: ClusterEndpoint): boolean {
  return a.server === b.server && a.caData === b.caData && a.caFile === b.caFile && a.tlsServerName === b.tlsServerName && a.skipTLSVerify === b.skipTLSVerify;
}

// client-node asks a user's authenticator for its credentials at every request and every watch,
// so a client made once keeps working across rotations; a plain `token` would be read only once.
const ROTATING_TOKEN = "fos1-rotating-token";

/** A KubeConfig for `cluster` whose bearer token is `token()` at the time of each request. */
export function rotatingTokenKubeConfig(cluster: ClusterEndpoint, user: string, token: () => string | undefined): KubeConfig {
  const kc = new KubeConfig();
  kc.addAuthenticator({
    isAuthProvider: (u) => (u.authProvider as { name?: string } | undefined)?.name === ROTATING_TOKEN,
    applyAuthentication: async (_user, opts) => {
      const current = token();
      if (current) opts.headers = { ...opts.headers, Authorization: `Bearer ${current}` };
    },
  });
  kc.loadFromOptions({
    clusters: [{ name: "cluster", ...cluster }],
    users: [{ name: user, authProvider: { name: ROTATING_TOKEN, config: {} } }],
    contexts: [{ name: user, cluster: "cluster", user }],
    currentContext: user,
  });
  return kc;
}
