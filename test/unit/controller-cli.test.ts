// `fos1 controller` as a user runs it (the compiled executable under make test): its usage
// errors, and a run against the FAKE API server (test/helpers/fake-apiserver.ts) through a
// kubeconfig file, stopped by SIGTERM.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { plural } from "../../src/api/crds";
import { eventually, startFakeCluster } from "../helpers/cluster";
import type { FakeApiServer } from "../helpers/fake-apiserver";
import { fos1, fos1Argv, logMessages } from "../helpers/fos1";

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
});

describe("fos1 controller against the fake API server", () => {
  let fake: FakeApiServer;
  beforeAll(() => {
    fake = startFakeCluster();
  });
  afterAll(() => fake.stop());

  test("leads, turns a FirewallRule into Cilium policies with status, and on SIGTERM exits 0 and releases the Lease", async () => {
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
    const objects = [
      { apiVersion: "network.fos1.io/v1alpha1", kind: "NetworkInterface", metadata: { name: "lan" }, spec: { device: "eth1", addresses: ["192.168.10.1/24"] } },
      { apiVersion: "network.fos1.io/v1alpha1", kind: "NetworkInterface", metadata: { name: "wan" }, spec: { device: "eth0", addresses: ["203.0.113.2/24"] } },
      { apiVersion: "security.fos1.io/v1alpha1", kind: "FirewallZone", metadata: { name: "lan" }, spec: { interfaces: ["lan"] } },
      { apiVersion: "security.fos1.io/v1alpha1", kind: "FirewallZone", metadata: { name: "wan" }, spec: { interfaces: ["wan"] } },
      { apiVersion: "security.fos1.io/v1alpha1", kind: "FirewallRule", metadata: { name: "web" }, spec: { fromZone: "lan", toZone: "wan", protocol: "tcp", ports: [443], action: "allow" } },
    ];
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
});
