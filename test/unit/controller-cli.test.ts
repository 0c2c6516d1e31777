// `fos1 controller` as a user runs it (the compiled executable under make test): its usage
// errors, and runs against the FAKE API server (test/helpers/fake-apiserver.ts) through a
// kubeconfig file, stopped by SIGTERM: its work and its HTTP endpoints.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { plural } from "../../src/api/crds";
import { eventually, startFakeCluster } from "../helpers/cluster";
import type { FakeApiServer } from "../helpers/fake-apiserver";
import { fos1, fos1Argv, logMessages } from "../helpers/fos1";
import { samples, value } from "../helpers/prometheus";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "fos1-controller-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** No kubeconfig anywhere and not in a pod. */
const nowhere = () => ({ HOME: dir, KUBECONFIG: "", KUBERNETES_SERVICE_HOST: "" });

describe("fos1 controller: what it refuses", () => {
  test("no API server to talk to → exit 1, saying where it looked", async () => {
    const r = await fos1(["controller"], nowhere());
    expect(r.exitCode).toBe(1);
    expect(logMessages(r)).toContain("no Kubernetes API to talk to");
    expect(logMessages(r)).toContain("--kubeconfig");
  });

  test("a duration that is not one, or durations out of order → exit 2", async () => {
    const bad = await fos1(["controller", "--lease-duration", "soon"], nowhere());
    expect(bad.exitCode).toBe(2);
    expect(logMessages(bad)).toContain('--lease-duration "soon" is not a duration');
    const order = await fos1(["controller", "--renew-deadline", "20s"], nowhere());
    expect(order.exitCode).toBe(2);
    expect(logMessages(order)).toContain("--lease-duration > --renew-deadline > --retry-period");
  });

  test("a --listen that is not an IP address and port → exit 2", async () => {
    const r = await fos1(["controller", "--listen", "localhost:9642"], nowhere());
    expect(r.exitCode).toBe(2);
    expect(logMessages(r)).toContain('--listen "localhost:9642": "localhost" is not an IP address');
  });
});

const objects = [
  { apiVersion: "network.fos1.io/v1alpha1", kind: "NetworkInterface", metadata: { name: "lan" }, spec: { device: "eth1", addresses: ["192.168.10.1/24"] } },
  { apiVersion: "network.fos1.io/v1alpha1", kind: "NetworkInterface", metadata: { name: "wan" }, spec: { device: "eth0", addresses: ["203.0.113.2/24"] } },
  { apiVersion: "security.fos1.io/v1alpha1", kind: "FirewallZone", metadata: { name: "lan" }, spec: { interfaces: ["lan"] } },
  { apiVersion: "security.fos1.io/v1alpha1", kind: "FirewallZone", metadata: { name: "wan" }, spec: { interfaces: ["wan"] } },
  { apiVersion: "security.fos1.io/v1alpha1", kind: "FirewallRule", metadata: { name: "web" }, spec: { fromZone: "lan", toZone: "wan", protocol: "tcp", ports: [443], action: "allow" } },
];

function writeKubeconfig(fake: FakeApiServer): string {
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(
    kubeconfig,
    stringify({
      apiVersion: "v1",
      kind: "Config",
      // The fake speaks plain HTTP, which client-node allows only with TLS checks off.
      clusters: [{ name: "fake", cluster: { server: fake.url, "insecure-skip-tls-verify": true } }],
      users: [{ name: "test", user: { token: "fake-token" } }],
      contexts: [{ name: "fake", context: { cluster: "fake", user: "test" } }],
      "current-context": "fake",
    }),
  );
  return kubeconfig;
}

/** The JSON log lines a process writes on stderr, collected as they come. */
function logLines(stream: ReadableStream<Uint8Array>): { msg: string; [field: string]: unknown }[] {
  const lines: { msg: string }[] = [];
  void (async () => {
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of stream) {
      buffered += decoder.decode(chunk, { stream: true });
      const complete = buffered.split("\n");
      buffered = complete.pop()!;
      for (const l of complete) if (l.startsWith("{")) lines.push(JSON.parse(l) as { msg: string });
    }
  })();
  return lines;
}

describe("fos1 controller against the fake API server", () => {
  let fake: FakeApiServer;
  beforeAll(() => {
    fake = startFakeCluster();
  });
  afterAll(() => fake.stop());

  test("leads, turns a FirewallRule into Cilium policies with status, and on SIGTERM exits 0 and releases the Lease", async () => {
    const kubeconfig = writeKubeconfig(fake);
    for (const o of objects) fake.put(plural(o.kind), o);

    const proc = Bun.spawn([...fos1Argv(), "controller", "--kubeconfig", kubeconfig, "--identity", "cli-test", "--lease-duration", "3s", "--renew-deadline", "2s", "--retry-period", "1s"], {
      env: { ...process.env, ...nowhere() },
      stdout: "pipe",
      stderr: "pipe",
    });
    const stderr = new Response(proc.stderr).text();
    try {
      const lease = () => fake.get("leases", "fos1-controller", "fos1-system")?.spec as { holderIdentity?: string } | undefined;
      await eventually("the Lease held by cli-test", () => lease()?.holderIdentity === "cli-test", 30_000);
      await eventually("the lan zone's policy", () => JSON.stringify(fake.get("ciliumclusterwidenetworkpolicies", "fos1-zone-lan")?.spec ?? "").includes('"443"'), 30_000);
      await eventually("web Ready", () => (fake.get("firewallrules", "web")?.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions?.some((c) => c.type === "Ready" && c.status === "True"), 30_000);
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
      expect(lease()?.holderIdentity).toBe("");
    } finally {
      proc.kill("SIGKILL");
      await proc.exited;
    }
    expect(await stderr).toContain("became leader");
  }, 60_000);

  test("answers on --listen: /healthz 200, /readyz 503 until the leader's caches are synced then 200, /metrics with the controller's metrics", async () => {
    const kubeconfig = writeKubeconfig(fake);
    for (const o of objects) fake.put(plural(o.kind), o);
    // The first list of FirewallRules does not get through until the test lets it.
    const unblock = fake.hook((req) => (req.method === "GET" && !req.watch && req.path.endsWith("/firewallrules") ? Response.json({ kind: "Status", code: 503, message: "try later" }, { status: 503 }) : undefined));
    const proc = Bun.spawn([...fos1Argv(), "controller", "--kubeconfig", kubeconfig, "--identity", "endpoints-test", "--listen", "127.0.0.1:0", "--lease-duration", "3s", "--renew-deadline", "2s", "--retry-period", "1s"], {
      env: { ...process.env, ...nowhere(), FOS1_LOG_FORMAT: "json" },
      stdout: "ignore",
      stderr: "pipe",
    });
    const log = logLines(proc.stderr);
    try {
      const url = await eventually("the endpoints' address in the log", () => log.find((l) => l.msg === "health and metrics endpoints listening")?.url as string | undefined, 30_000);
      const get = async (path: string) => {
        const r = await fetch(new URL(path, url));
        return { status: r.status, type: r.headers.get("content-type") ?? "", body: await r.text() };
      };
      expect(await get("/healthz")).toMatchObject({ status: 200, body: '{\n "status": "ok"\n}\n' });

      const leading = await eventually("leading, caches not synced", async () => {
        const r = await get("/readyz");
        return (JSON.parse(r.body) as { leadership: string }).leadership === "leader" ? r : undefined;
      }, 30_000);
      expect(leading.status).toBe(503);
      expect(JSON.parse(leading.body)).toMatchObject({ ready: false, cachesSynced: false, status: "leading; waiting for the informers' first lists" });

      unblock();
      const ready = await eventually("ready", async () => {
        const r = await get("/readyz");
        return r.status === 200 ? r : undefined;
      }, 30_000);
      expect(JSON.parse(ready.body)).toMatchObject({ ready: true, leadership: "leader", cachesSynced: true });

      const metrics = await eventually("the policies counted", async () => {
        const r = await get("/metrics");
        return (value(samples(r.body), "fos1_controller_translated_objects", { kind: "CiliumClusterwideNetworkPolicy" }) ?? 0) > 0 ? r : undefined;
      }, 30_000);
      expect(metrics.type).toStartWith("text/plain");
      const all = samples(metrics.body);
      expect(value(all, "fos1_controller_leader")).toBe(1);
      expect(value(all, "fos1_controller_reconciles_total", { kind: "sync", outcome: "success" })).toBeGreaterThanOrEqual(1);

      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
    } finally {
      unblock();
      proc.kill("SIGKILL");
      await proc.exited;
    }
  }, 60_000);
});
