// The boot service's pure parts: the sd_notify socket address, readiness from the agent's
// events, per-interface state from an apply result, the metrics' exposition, the HTTP answers
// and --listen. The service itself (real sockets, real kernel) is tested in
// test/netns/agent-service.test.ts.
import { describe, expect, test } from "bun:test";
import { loadConfigText } from "../../src/api/load";
import type { ApplyResult } from "../../src/engine/apply";
import { desiredState } from "../../src/engine/desired";
import type { DesiredState, ObservedState } from "../../src/engine/model";
import { plan } from "../../src/engine/plan";
import { handleHealthRequest, type HealthSources } from "../../src/agent/health-server";
import { interfaceStates } from "../../src/agent/interface-state";
import { AgentMetrics } from "../../src/agent/agent-metrics";
import { Readiness } from "../../src/agent/readiness";
import { ReadyNotifier } from "../../src/agent/ready-notifier";
import { NotifyError, notifySockaddr } from "../../src/agent/sd-notify";
import { parseListen } from "../../src/cli/commands/agent";
import { UsageError } from "../../src/base/errors";
import { Logger, type LogSink } from "../../src/base/log";

const CONFIG = `apiVersion: network.fos1.io/v1alpha1
kind: NetworkInterface
metadata: {name: lan}
spec: {device: lan0, addresses: [192.0.2.1/24]}
---
apiVersion: network.fos1.io/v1alpha1
kind: NetworkInterface
metadata: {name: wan}
spec: {device: wan0, addresses: [198.51.100.1/24]}
---
apiVersion: network.fos1.io/v1alpha1
kind: NetworkInterface
metadata: {name: guest}
spec: {device: lan0, vlan: {enabled: true, id: 20}, addresses: [203.0.113.1/24]}
`;

function desired(): DesiredState {
  const loaded = loadConfigText(CONFIG, "config.yaml");
  expect(loaded.problems).toEqual([]);
  return desiredState(loaded.objects);
}

/** A host with lan0 and nothing configured; wan0 is missing. */
const host: ObservedState = {
  sysctls: {},
  firewall: null,
  routes: [],
  rules: [],
  links: [{ name: "lan0", index: 2, kind: "veth", state: "UP", adminUp: true, mac: "02:00:00:00:00:01", mtu: 1500, alias: null, group: 0, master: null, addresses: [] }],
};

/** The apply result of planning CONFIG on host, with the given subjects failed or not kept. */
function applyResult(d: DesiredState, opts: { failed?: string; unkept?: string } = {}): ApplyResult {
  const p = plan(d, host);
  const op = (subject: string) => {
    const found = p.ops.find((o) => o.subject === subject);
    if (!found) throw new Error(`no op ${subject} in ${p.ops.map((o) => o.subject).join(", ")}`);
    return found;
  };
  return {
    writes: p.ops.length,
    applied: p.ops,
    processes: 2,
    failed: opts.failed ? [{ op: op(opts.failed), error: "Operation not supported" }] : [],
    degraded: p.degraded,
    unconverged: opts.unkept ? [op(opts.unkept)] : [],
  };
}

describe("notifySockaddr", () => {
  test("a path: AF_UNIX, the path, its NUL, and that length", () => {
    const { addr, length } = notifySockaddr("/run/systemd/notify");
    expect(addr.length).toBe(110);
    expect([...addr.subarray(0, 2)]).toEqual([1, 0]);
    expect(new TextDecoder().decode(addr.subarray(2, 21))).toBe("/run/systemd/notify");
    expect(addr[21]).toBe(0);
    expect(length).toBe(2 + 19 + 1);
  });

  test("an abstract name: a leading NUL in place of @, no trailing NUL counted", () => {
    const { addr, length } = notifySockaddr("@fos1/notify");
    expect([...addr.subarray(0, 3)]).toEqual([1, 0, 0]);
    expect(new TextDecoder().decode(addr.subarray(3, 14))).toBe("fos1/notify");
    expect(length).toBe(2 + 1 + 11);
  });

  test("what is not a unix socket address is refused with what is allowed", () => {
    expect(() => notifySockaddr("run/notify")).toThrow(new NotifyError('NOTIFY_SOCKET="run/notify" is not a unix socket address: expected an absolute path or "@name" (abstract); other kinds (vsock:) are not supported'));
    expect(() => notifySockaddr("vsock:2:1234")).toThrow(NotifyError);
    expect(() => notifySockaddr("@")).toThrow('NOTIFY_SOCKET="@" is empty: a unix socket address holds 1 to 107 bytes');
    expect(() => notifySockaddr("/" + "x".repeat(107))).toThrow("is too long: a unix socket address holds 1 to 107 bytes");
    expect(notifySockaddr("/" + "x".repeat(106)).length).toBe(110);
  });
});

describe("interfaceStates", () => {
  test("each configured interface with its state; the missing NIC degraded with the reason", () => {
    expect(interfaceStates(desired(), applyResult(desired()))).toEqual([
      { interface: "guest", device: "guest", kind: "vlan", state: "converged" },
      { interface: "lan", device: "lan0", kind: "physical", state: "converged" },
      { interface: "wan", device: "wan0", kind: "physical", state: "degraded", reason: "link wan0: NIC wan0 is not present on this host" },
    ]);
  });

  test("a refused operation makes its interface failed, a change the kernel dropped unconverged", () => {
    const d = desired();
    const states = interfaceStates(d, applyResult(d, { failed: "link guest", unkept: "address 192.0.2.1/24 on lan0" }));
    expect(states.find((s) => s.interface === "guest")).toEqual({ interface: "guest", device: "guest", kind: "vlan", state: "failed", reason: "link guest: Operation not supported" });
    expect(states.find((s) => s.interface === "lan")).toMatchObject({ state: "unconverged", reason: "address 192.0.2.1/24 on lan0: the kernel did not keep this change" });
  });
});

describe("Readiness", () => {
  const digest = "sha256:" + "ab".repeat(32);

  test("not ready while starting and until the config in force has converged; ready after, degraded interfaces listed", () => {
    const r = new Readiness();
    expect(r.report()).toMatchObject({ ready: false, reasons: ["starting: no config has been read yet"], config: null });
    r.configInForce({ digest, source: "file" });
    expect(r.report()).toMatchObject({ ready: false, reasons: [`the config sha256:abababababab (generation 1) is being applied`] });
    const d = desired();
    r.converged({ trigger: "start", seconds: 0.0123456, desired: d, result: applyResult(d) });
    const report = r.report();
    expect(report).toMatchObject({ ready: true, reasons: [], status: "ready: config sha256:abababababab (generation 1) in force; 1 degraded", config: { digest, source: "file", generation: 1 } });
    expect(report.lastConverge).toMatchObject({ outcome: "converged", trigger: "start", seconds: 0.012, generation: 1 });
    expect(report.degraded).toEqual([{ ref: "NetworkInterface/wan", subject: "link wan0", reason: "NIC wan0 is not present on this host" }]);
  });

  test("a file rejected at boot: not ready, each problem a reason, the last-known-good named; the file fixed to the same config makes it ready", () => {
    const r = new Readiness();
    const problem = "/etc/fos1/config.yaml:7:8: document 1 (NetworkInterface/lan) spec.mtu: must be an integer; got \"tiny\"";
    r.configRejected("/etc/fos1/config.yaml", [problem]);
    r.configInForce({ digest, source: "last-known-good" });
    const d = desired();
    r.converged({ trigger: "start", seconds: 0.1, desired: d, result: applyResult(d) });
    expect(r.report()).toMatchObject({
      ready: false,
      status: "not ready: /etc/fos1/config.yaml was rejected (1 problem); the last-known-good config (sha256:abababababab) stays in force",
      reasons: ["/etc/fos1/config.yaml was rejected (1 problem); the last-known-good config (sha256:abababababab) stays in force", problem],
      rejected: [{ file: "/etc/fos1/config.yaml", problems: [problem] }],
      config: { source: "last-known-good", generation: 1 },
    });
    r.configFileAccepted();
    expect(r.report()).toMatchObject({ ready: true, rejected: [] });
  });

  test("nothing in force: the rejection says nothing is applied", () => {
    const r = new Readiness();
    r.configRejected("/etc/fos1/config.yaml", ["/etc/fos1/config.yaml: cannot read the config file: no such file"]);
    expect(r.report().reasons).toEqual(["/etc/fos1/config.yaml was rejected (1 problem); nothing is applied", "/etc/fos1/config.yaml: cannot read the config file: no such file"]);
  });

  test("failed operations, dropped changes and converges that could not run make it not ready, with what", () => {
    const r = new Readiness();
    r.configInForce({ digest, source: "file" });
    const d = desired();
    r.converged({ trigger: "netlink link", seconds: 0.2, desired: d, result: applyResult(d, { failed: "link guest", unkept: "address 192.0.2.1/24 on lan0" }) });
    expect(r.report()).toMatchObject({
      ready: false,
      reasons: ["the last converge did not converge", "link guest: Operation not supported", "address 192.0.2.1/24 on lan0: the kernel did not keep this change"],
    });
    r.converged({ trigger: "retry", seconds: 0.001, error: "ip: command not found" });
    expect(r.report()).toMatchObject({ ready: false, reasons: ["the last converge failed: ip: command not found"] });
    r.converged({ trigger: "retry", seconds: 0.1, desired: d, result: applyResult(d) });
    expect(r.report().ready).toBe(true);
    r.stop();
    expect(r.report()).toMatchObject({ ready: false, reasons: ["the agent is stopping"] });
  });

  test("a config file with many problems gives a bounded answer", () => {
    const r = new Readiness();
    r.configRejected("c.yaml", Array.from({ length: 50 }, (_, i) => `c.yaml:${i + 1}:1: bad`));
    const reasons = r.report().reasons;
    expect(reasons).toHaveLength(1 + 20 + 1);
    expect(reasons.at(-1)).toBe("… and 30 more");
  });
});

describe("AgentMetrics", () => {
  test("converge counts by outcome, duration, writes, config generation and source, per-interface state, readiness", async () => {
    let ready = false;
    const m = new AgentMetrics(() => ready, () => 1_700_000_000_000);
    const d = desired();
    m.configRejected();
    m.configInForce({ digest: "sha256:1", source: "last-known-good" });
    m.converged({ trigger: "start", seconds: 0.03, desired: d, result: applyResult(d) });
    m.converged({ trigger: "netlink link", seconds: 0.2, desired: d, result: applyResult(d, { failed: "link guest" }) });
    m.converged({ trigger: "retry", seconds: 0.001, error: "ip: command not found" });
    m.configInForce({ digest: "sha256:2", source: "file" });
    ready = true;
    const text = await m.render();
    const lines = text.split("\n").filter((l) => l && !l.startsWith("#"));
    const writes = applyResult(d).writes;
    expect(lines).toEqual(
      expect.arrayContaining([
        'fos1_converges_total{outcome="converged"} 1',
        'fos1_converges_total{outcome="not_converged"} 1',
        'fos1_converges_total{outcome="error"} 1',
        'fos1_converge_duration_seconds_bucket{le="0.01"} 1',
        'fos1_converge_duration_seconds_bucket{le="0.05"} 2',
        'fos1_converge_duration_seconds_bucket{le="0.25"} 3',
        "fos1_converge_duration_seconds_count 3",
        `fos1_converge_writes_total ${2 * writes}`,
        "fos1_last_converge_timestamp_seconds 1700000000",
        "fos1_config_generation 2",
        'fos1_config_info{digest="sha256:2",source="file"} 1',
        "fos1_config_file_valid 1",
        'fos1_interface_state{interface="guest",device="guest",kind="vlan",state="failed"} 1',
        'fos1_interface_state{interface="guest",device="guest",kind="vlan",state="converged"} 0',
        'fos1_interface_state{interface="wan",device="wan0",kind="physical",state="degraded"} 1',
        'fos1_interface_state{interface="lan",device="lan0",kind="physical",state="converged"} 1',
        "fos1_ready 1",
      ]),
    );
    expect(lines.filter((l) => l.startsWith("fos1_config_info"))).toHaveLength(1); // the old config's series is gone
    expect(lines.filter((l) => l.startsWith("fos1_interface_state"))).toHaveLength(3 * 4);
    expect(text).toContain("# TYPE fos1_converges_total counter");
    expect(text).toContain("# TYPE fos1_converge_duration_seconds histogram");
  });
});

describe("handleHealthRequest", () => {
  const sources = (ready: boolean): HealthSources => ({
    readiness: () => {
      const r = new Readiness();
      if (ready) {
        r.configInForce({ digest: "sha256:1", source: "file" });
        const d = desired();
        r.converged({ trigger: "start", seconds: 0.1, desired: d, result: applyResult(d) });
      }
      return r.report();
    },
    metrics: async () => "fos1_ready 1\n",
    metricsContentType: "text/plain; version=0.0.4; charset=utf-8",
  });
  const ask = (path: string, ready = true, method = "GET") => handleHealthRequest(new Request(`http://127.0.0.1:9641${path}`, { method }), sources(ready));

  test("/healthz 200; /readyz 200 or 503 with the JSON report; /metrics in the Prometheus text format", async () => {
    const health = await ask("/healthz");
    expect([health.status, await health.json()]).toEqual([200, { status: "ok" }]);
    const ready = await ask("/readyz");
    expect(ready.status).toBe(200);
    expect(ready.headers.get("content-type")).toBe("application/json");
    expect(await ready.json()).toMatchObject({ ready: true, reasons: [] });
    const notReady = await ask("/readyz", false);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toMatchObject({ ready: false, reasons: ["starting: no config has been read yet"] });
    const metrics = await ask("/metrics");
    expect([metrics.status, metrics.headers.get("content-type"), await metrics.text()]).toEqual([200, "text/plain; version=0.0.4; charset=utf-8", "fos1_ready 1\n"]);
  });

  test("other paths 404 with the list of endpoints; other methods 405", async () => {
    const missing = await ask("/status");
    expect([missing.status, await missing.json()]).toEqual([404, { error: "no such endpoint /status", endpoints: ["/healthz", "/readyz", "/metrics"] }]);
    const post = await ask("/readyz", true, "POST");
    expect([post.status, post.headers.get("allow")]).toEqual([405, "GET, HEAD"]);
  });
});

describe("ReadyNotifier", () => {
  const quiet: LogSink = { write: () => {}, isTTY: false };

  test("READY=1 with the status once started, STATUS= only when it changes, STOPPING=1 at the end", () => {
    const sent: string[] = [];
    const r = new Readiness();
    const n = new ReadyNotifier(r, new Logger(quiet), (m) => (sent.push(m), true));
    const d = desired();
    r.configInForce({ digest: "sha256:" + "cd".repeat(32), source: "file" });
    n.configInForce();
    expect(sent).toEqual([]); // nothing before READY=1
    r.converged({ trigger: "start", seconds: 0.1, desired: d, result: applyResult(d) });
    n.ready();
    expect(sent).toEqual(["READY=1\nSTATUS=ready: config sha256:cdcdcdcdcdcd (generation 1) in force; 1 degraded"]);
    n.converged();
    expect(sent).toHaveLength(1);
    r.configRejected("c.yaml", ["c.yaml:1:1: bad"]);
    n.configRejected();
    expect(sent.at(-1)).toBe("STATUS=not ready: c.yaml was rejected (1 problem); the config in force (sha256:cdcdcdcdcdcd) stays");
    n.stopping();
    expect(sent.at(-1)).toBe("STOPPING=1\nSTATUS=stopping; the network is left as it is");
  });

  test("a socket that cannot be reached is logged once, and the agent goes on", () => {
    const logged: string[] = [];
    const n = new ReadyNotifier(new Readiness(), new Logger({ write: (l) => void logged.push(l), isTTY: false }), () => {
      throw new NotifyError("cannot send sd_notify message to NOTIFY_SOCKET=/run/x: No such file or directory (errno 2)");
    });
    n.ready();
    n.stopping();
    expect(logged).toHaveLength(1);
    expect(JSON.parse(logged[0]!)).toMatchObject({ level: "warn", msg: "cannot tell the service manager", error: "cannot send sd_notify message to NOTIFY_SOCKET=/run/x: No such file or directory (errno 2)" });
  });
});

describe("parseListen", () => {
  test("IPv4, IPv6 in brackets, port 0", () => {
    expect(parseListen("127.0.0.1:9641")).toEqual({ host: "127.0.0.1", port: 9641 });
    expect(parseListen("[::1]:9641")).toEqual({ host: "::1", port: 9641 });
    expect(parseListen("0.0.0.0:0")).toEqual({ host: "0.0.0.0", port: 0 });
  });

  test("what is not ADDRESS:PORT is a usage error saying what is allowed", () => {
    for (const bad of ["9641", "127.0.0.1", "127.0.0.1:65536", ":9641", "::1:9641"])
      expect(() => parseListen(bad)).toThrow(new UsageError(`--listen must be ADDRESS:PORT with an IP address and a port from 0 to 65535 (IPv6 in brackets: [::1]:9641), not "${bad}"`));
    expect(() => parseListen("localhost:9641")).toThrow('"localhost" is not an IP address');
    expect(() => parseListen("[127.0.0.1]:9641")).toThrow("write an IPv6 address in brackets ([127.0.0.1]:9641) and an IPv4 one without");
  });
});
