// The agent's cluster credential on a Talos node (src/cluster/agent-credential.ts) against two
// FAKES: the FAKE Talos API as machined on a Unix socket, handing out an admin kubeconfig as a
// .tar.gz (test/unit/talos-api/fake-talos-api.ts), and the FAKE API server with bearer tokens,
// TokenRequest and the agent's RBAC from deploy/manifests enforced (test/helpers/fake-apiserver.ts,
// rbac.ts). Tokens expire by a manual clock the test moves; the credential waits on the same one.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { AgentCredential } from "../../src/cluster/agent-credential";
import { AGENT_ACCOUNT, DEFAULT_TOKEN_SECONDS } from "../../src/cluster/agent-token";
import { CredentialedClusterSource } from "../../src/cluster/credentialed-source";
import { ClientNodeKubeApi } from "../../src/cluster/kube-client";
import { agentManifests } from "../../src/cluster/manifests";
import { ClusterSource } from "../../src/cluster/node-source";
import { FOS1_RESOURCES } from "../../src/cluster/resources";
import { TalosClient } from "../../src/talos/client";
import { eventually, memoryLogger, startFakeCluster } from "../helpers/cluster";
import type { FakeApiServer } from "../helpers/fake-apiserver";
import { rbacAuthorizer } from "../helpers/rbac";
import { FakeTalosApi } from "./talos-api/fake-talos-api";

const AGENT_USER = "system:serviceaccount:fos1-system:fos1-agent";
const ADMIN_TOKEN = "admin-token-from-the-admin-kubeconfig";
const LIFETIME_MS = DEFAULT_TOKEN_SECONDS * 1000;
const ROUTE = FOS1_RESOURCES.find((t) => t.kind === "Route")!;

/** A clock only the test moves: sleeps end when it passes their deadline. */
class ManualClock {
  private time = Date.parse("2026-03-01T00:00:00Z");
  private waiters: { until: number; wake: (waited: boolean) => void }[] = [];
  readonly now = () => this.time;
  readonly sleep = (ms: number, signal: AbortSignal): Promise<boolean> =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve(false);
      const waiter = { until: this.time + ms, wake: resolve };
      this.waiters.push(waiter);
      signal.addEventListener("abort", () => resolve(false), { once: true });
    });
  advance(ms: number): void {
    this.time += ms;
    const due = this.waiters.filter((w) => w.until <= this.time);
    this.waiters = this.waiters.filter((w) => w.until > this.time);
    for (const w of due) w.wake(true);
  }
  get sleeping(): number {
    return this.waiters.length;
  }
}

let dir: string;
let clock: ManualClock;
let api: FakeApiServer;
let talos: FakeTalosApi;
let credential: AgentCredential;
let logged: string[];

const adminKubeconfig = (server: string) =>
  stringify({
    apiVersion: "v1",
    kind: "Config",
    // The fake serves plain HTTP, which client-node allows only so.
    clusters: [{ name: "fos1", cluster: { server, "insecure-skip-tls-verify": true } }],
    users: [{ name: "admin@fos1", user: { token: ADMIN_TOKEN } }],
    contexts: [{ name: "admin@fos1", context: { cluster: "fos1", user: "admin@fos1" } }],
    "current-context": "admin@fos1",
  });

function start(options: { kubeconfig?: string } = {}) {
  talos = new FakeTalosApi(options);
  const socket = join(dir, "machine.sock");
  const listening = talos.listenMachined(socket);
  const log = memoryLogger();
  logged = log.lines;
  credential = new AgentCredential({
    // What `fos1 agent --cluster talos` passes: machined's Kubeconfig through the socket.
    adminKubeconfig: async () => {
      await listening;
      const client = new TalosClient({ kind: "socket", path: socket });
      try {
        return await client.kubeconfig();
      } finally {
        client.close();
      }
    },
    log: log.log,
    now: clock.now,
    sleep: clock.sleep,
    backoff: { initialMs: 1000, maxMs: 1000 },
  });
}

const kubeconfigCalls = () => talos.calls.filter((c) => c.rpc === "Kubeconfig").length;
/** The credential is waiting on the clock (nothing in flight). */
const idle = () => eventually("the credential to wait on the clock", () => clock.sleeping > 0);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "fos1-credential-"));
  clock = new ManualClock();
  api = startFakeCluster(rbacAuthorizer(agentManifests(), AGENT_ACCOUNT));
  api.authenticate({ now: clock.now, adminTokens: [ADMIN_TOKEN], serviceAccounts: ["fos1-system/fos1-agent"] });
  api.put("nodes", { apiVersion: "v1", kind: "Node", metadata: { name: "r1", labels: { "fos1.io/role": "router" } } });
  api.put("routes", { apiVersion: "network.fos1.io/v1alpha1", kind: "Route", metadata: { name: "lab" }, spec: { destination: "10.9.0.0/16", gateway: "192.168.10.254" } });
});

afterEach(async () => {
  await credential?.stop();
  talos?.close();
  await api.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("on a control plane", () => {
  beforeEach(() => start({ kubeconfig: adminKubeconfig(api.url) }));

  test("mints its token through machined once, then reads its node's objects with that token alone, under the agent's RBAC", async () => {
    const source = new CredentialedClusterSource(credential, (kube) => new ClusterSource({ api: kube, node: "r1", log: memoryLogger().log, backoff: { initialMs: 50, maxMs: 200 } }));
    expect(source.selected()).toEqual([]);
    source.start();
    try {
      await eventually("the lab route from the cluster", () => source.selected().some((o) => o.metadata.name === "lab"));
    } finally {
      await source.stop();
    }
    expect(kubeconfigCalls()).toBe(1);
    expect(api.issued).toEqual([{ account: "fos1-system/fos1-agent", by: "admin", expiresAt: clock.now() + LIFETIME_MS }]);
    // The admin kubeconfig served one request, the TokenRequest; everything after is the agent's.
    expect(api.users[0]).toBe("admin");
    expect(api.users.slice(1).length).toBeGreaterThan(0);
    expect(new Set(api.users.slice(1))).toEqual(new Set([AGENT_USER]));
    expect(api.denied).toEqual([]);
    // Neither the admin's credential nor a token is in the log.
    expect(logged.join("")).not.toContain(ADMIN_TOKEN);
    expect(logged.join("")).not.toContain("fake-sa-token-");
  });

  test("renews at 80% of the lifetime with its own token, not machined, and its client takes the new token for new requests", async () => {
    credential.start();
    const kc = (await credential.kubeConfig)!;
    const client = new ClientNodeKubeApi(kc);
    await idle();
    clock.advance(0.79 * LIFETIME_MS);
    await Bun.sleep(100);
    expect(api.issued).toHaveLength(1);
    clock.advance(0.02 * LIFETIME_MS);
    await eventually("a second token", () => api.issued.length === 2);
    expect(api.issued[1]).toMatchObject({ account: "fos1-system/fos1-agent", by: AGENT_USER });
    expect(kubeconfigCalls()).toBe(1);
    // Past the first token's expiry: the same client works, so it sends the second.
    await idle();
    clock.advance(0.2 * LIFETIME_MS);
    expect((await client.list(ROUTE)).items.map((o) => o.metadata.name)).toEqual(["lab"]);
    expect(api.unauthorized).toBe(0);
    expect(api.users.at(-1)).toBe(AGENT_USER);
    expect(kubeconfigCalls()).toBe(1);
  });

  test("a token that expired during an outage of the API sends it back to machined once", async () => {
    credential.start();
    await credential.kubeConfig;
    await idle();
    const outage = api.hook((req) => (req.path.endsWith("/token") ? Response.json({ kind: "Status", code: 503, message: "the server is shutting down" }, { status: 503 }) : undefined));
    clock.advance(0.85 * LIFETIME_MS);
    await eventually("the renewal to fail and be retried", () => logged.some((l) => l.includes("renewing the agent's token failed")));
    expect(kubeconfigCalls()).toBe(1);
    outage();
    await idle();
    clock.advance(0.2 * LIFETIME_MS);
    await eventually("a new token through machined", () => api.issued.length === 2);
    expect(api.issued[1]!.by).toBe("admin");
    expect(kubeconfigCalls()).toBe(2);
    expect(credential.expiresAt).toBe(clock.now() + LIFETIME_MS);
    expect(logged.some((l) => l.includes("expired before it could be renewed"))).toBe(true);
  });

  test("a token the API server refuses before its time (the account made again) also goes back to machined", async () => {
    credential.start();
    await credential.kubeConfig;
    await idle();
    api.revokeTokens();
    clock.advance(0.81 * LIFETIME_MS);
    await eventually("a new token through machined", () => api.issued.length === 2);
    expect(api.issued[1]!.by).toBe("admin");
    expect(kubeconfigCalls()).toBe(2);
  });
});

describe("without a cluster", () => {
  test("a worker node: machined has no kubeconfig; it says why, tries again with backoff, and its source selects nothing", async () => {
    start();
    const source = new CredentialedClusterSource(credential, (kube) => new ClusterSource({ api: kube, node: "r1", log: memoryLogger().log }));
    source.start();
    await eventually("the reason logged", () => logged.find((l) => l.includes("no cluster credential yet")));
    expect(logged.find((l) => l.includes("no cluster credential yet"))).toContain("not a control plane");
    expect(kubeconfigCalls()).toBe(1);
    await idle();
    clock.advance(1500);
    await eventually("a second try", () => kubeconfigCalls() === 2);
    expect(source.selected()).toEqual([]);
    expect(api.requests).toEqual([]);
    await source.stop();
  });

  test("a control plane whose API server is not up yet: the same, until it answers", async () => {
    start({ kubeconfig: adminKubeconfig("http://127.0.0.1:1") });
    credential.start();
    await eventually("the reason logged", () => logged.find((l) => l.includes("no cluster credential yet")));
    expect(logged.find((l) => l.includes("no cluster credential yet"))).toContain("did not issue a token for fos1-system/fos1-agent");
    talos.kubeconfig = adminKubeconfig(api.url);
    await idle();
    clock.advance(1500);
    expect(await credential.kubeConfig).toBeDefined();
    expect(kubeconfigCalls()).toBe(2);
  });

  test("machined unreachable (no socket mounted): the same", async () => {
    credential = new AgentCredential({ adminKubeconfig: () => new TalosClient({ kind: "socket", path: join(dir, "none.sock") }).kubeconfig(), log: memoryLogger().log, now: clock.now, sleep: clock.sleep });
    talos = new FakeTalosApi();
    credential.start();
    await idle();
    expect(credential.expiresAt).toBeUndefined();
  });
});
