// `fos1 talos` as the operator runs it (the compiled dist/fos1 under make test), against the
// FAKE Talos API (test/unit/talos-api/fake-talos-api.ts): apid with mutual TLS, reached through a
// talosconfig written as talosctl writes it, and machined's Unix socket.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fos1Argv, logMessages, type CliResult } from "../helpers/fos1";
import { makeTestPki, talosconfigText, type TestPki } from "./talos-api/certs";
import { FakeTalosApi } from "./talos-api/fake-talos-api";

let dir: string;
let pki: TestPki;
let fake: FakeTalosApi;
let talosconfig: string;
let socket: string;

const MACHINE_CONFIG = "version: v1alpha1\nmachine:\n  type: controlplane\ncluster:\n  clusterName: fos1\n---\napiVersion: v1alpha1\nkind: HostnameConfig\nhostname: fos1-router\n";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "fos1-talos-cli-"));
  pki = makeTestPki();
  fake = new FakeTalosApi({ unreachable: ["10.0.0.9"], logs: { "ext-fos1-agent": ["boot converge: 12 writes", "ready", "config reloaded"] } });
  const port = await fake.listenApid(pki);
  socket = join(dir, "machine.sock");
  await fake.listenMachined(socket);
  talosconfig = join(dir, "talosconfig");
  const endpoints = [`127.0.0.1:${port}`];
  writeFileSync(
    talosconfig,
    talosconfigText("router", {
      router: { endpoints, nodes: ["10.0.0.2"], ca: pki.ca.cert, client: pki.client },
      "other-ca": { endpoints, nodes: ["10.0.0.2"], ca: pki.otherCa.cert, client: pki.client },
      "other-client": { endpoints, nodes: ["10.0.0.2"], ca: pki.ca.cert, client: pki.otherClient },
    }),
  );
  writeFileSync(join(dir, "machine.yaml"), MACHINE_CONFIG);
  writeFileSync(join(dir, "v1alpha1.yaml"), "version: v1alpha1\nmachine: {type: controlplane}\n");
});

afterAll(() => {
  fake.close();
  rmSync(dir, { recursive: true, force: true });
});

function start(args: string[]) {
  // HOME and TALOSCONFIG point nowhere real: only what the test gives is used.
  const env = { ...process.env, FOS1_LOG_FORMAT: "json", HOME: dir, TALOSCONFIG: "" };
  return Bun.spawn([...fos1Argv(), ...args], { cwd: dir, stdout: "pipe", stderr: "pipe", stdin: "ignore", env });
}

async function run(args: string[]): Promise<CliResult> {
  const proc = start(args);
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { exitCode, stdout, stderr };
}

const talos = (...args: string[]) => run(["talos", ...args, "--talosconfig", talosconfig]);

describe("fos1 talos version and services", () => {
  test("version: a row per node", async () => {
    const r = await talos("version", "-n", "10.0.0.2,10.0.0.3");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(
      ["NODE      TALOS    SHA       OS/ARCH      PLATFORM     GO", "10.0.0.2  v1.13.9  4d2bd6a5  linux/amd64  metal metal  go1.24.9", "10.0.0.3  v1.13.9  4d2bd6a5  linux/amd64  metal metal  go1.24.9", ""].join("\n"),
    );
  });

  test("version -o json, with a node apid cannot reach: the others still answer, exit 1", async () => {
    const r = await talos("version", "-n", "10.0.0.2,10.0.0.9", "-o", "json");
    expect(r.exitCode).toBe(1);
    const { nodes } = JSON.parse(r.stdout) as { nodes: { node: string; tag?: string; error?: string }[] };
    expect(nodes[0]).toMatchObject({ node: "10.0.0.2", tag: "v1.13.9", os: "linux", arch: "amd64", platform: "metal", rbac: true });
    expect(nodes[1]!.node).toBe("10.0.0.9");
    expect(nodes[1]!.error).toContain("no route to host");
    expect(logMessages(r)).toContain("node 10.0.0.9: rpc error: code = Unavailable");
  });

  test("services: state, health and the last event of each", async () => {
    const r = await talos("services");
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split("\n")).toEqual([
      "NODE      SERVICE         STATE    HEALTH                    LAST CHANGE               LAST EVENT",
      "10.0.0.2  apid            Running  OK                        2026-01-02T03:04:05.000Z  Health check successful",
      "10.0.0.2  ext-fos1-agent  Running  ?                         -                         Started task ext-fos1-agent (PID 2345) for container ext-fos1-agent",
      "10.0.0.2  kubelet         Running  FAIL: connection refused  2026-01-02T03:05:00.000Z  -",
      "",
    ]);
  });

  test("services over machined's socket: no talosconfig, no TLS", async () => {
    const r = await run(["talos", "services", "--socket", socket, "-o", "json"]);
    expect(r.exitCode).toBe(0);
    const { nodes } = JSON.parse(r.stdout) as { nodes: { node: string; services: { id: string; health: string }[] }[] };
    expect(nodes).toHaveLength(1);
    expect(nodes[0]!.node).toBe("local");
    expect(nodes[0]!.services.map((s) => `${s.id} ${s.health}`)).toEqual(["apid OK", "ext-fos1-agent ?", "kubelet FAIL: connection refused"]);
  });
});

describe("fos1 talos apply-config", () => {
  test("--try 90s: Talos's commit-confirm, 90 s arriving at the server, and how to keep the config", async () => {
    const r = await talos("apply-config", "-f", "machine.yaml", "--try", "90s");
    expect(r.exitCode).toBe(0);
    const call = fake.calls.at(-1)!;
    expect(call).toMatchObject({ rpc: "ApplyConfiguration", nodes: ["10.0.0.2"], request: { mode: "TRY", try_mode_timeout: { seconds: "90", nanos: 0 }, dry_run: false } });
    expect(Buffer.from(call.request.data as Uint8Array).toString()).toBe(MACHINE_CONFIG);
    expect(r.stdout.split("\n")).toEqual([
      "10.0.0.2: applied (mode TRY): Applied configuration without a reboot",
      "The config is applied in 'try' mode and will be automatically reverted back in 1m30s",
      "10.0.0.2: Talos reverts this config after 90s unless it is applied again in another mode (fos1 talos apply-config -f machine.yaml)",
      "",
    ]);
  });

  test("-o json, default mode auto: the mode Talos chose", async () => {
    const r = await talos("apply-config", "-f", "machine.yaml", "-o", "json");
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      file: "machine.yaml",
      requestedMode: "AUTO",
      dryRun: false,
      nodes: [{ node: "10.0.0.2", mode: "NO_REBOOT", modeDetails: "Applied configuration without a reboot", warnings: [] }],
    });
  });

  test("bad input exits 2 and nothing reaches Talos", async () => {
    writeFileSync(join(dir, "fos1.yaml"), "apiVersion: network.fos1.io/v1alpha1\nkind: NetworkInterface\nmetadata: {name: wan}\nspec: {device: eth0}\n");
    const before = fake.calls.length;
    const cases: [string[], string][] = [
      [["-f", "fos1.yaml"], "fos1.yaml:1:1: document 1: not a Talos machine config document"],
      [["-f", "absent.yaml"], "cannot read machine config absent.yaml: no such file"],
      [["-f", "machine.yaml", "--try", "90s", "--mode", "reboot"], "--try goes with mode try, not --mode reboot"],
      [["-f", "machine.yaml", "--try", "later"], '--try takes a duration like 90s, 5m or 1h; got "later"'],
      [["-f", "machine.yaml", "--follow"], "--follow goes with fos1 talos logs, not apply-config"],
      [[], "fos1 talos apply-config needs -f FILE"],
    ];
    for (const [args, message] of cases) {
      const r = await talos("apply-config", ...args);
      expect(r.exitCode, args.join(" ")).toBe(2);
      expect(logMessages(r)).toContain(message);
    }
    expect(fake.calls.length).toBe(before);
  });

  test("a config Talos refuses: exit 2 with Talos's reason", async () => {
    writeFileSync(join(dir, "no-machine.yaml"), "version: v1alpha1\ncluster: {clusterName: fos1}\n");
    const r = await talos("apply-config", "-f", "no-machine.yaml");
    expect(r.exitCode).toBe(2);
    expect(logMessages(r)).toContain("Talos refused the configuration");
    expect(logMessages(r)).toContain("machine instructions are required");
  });
});

describe("fos1 talos logs", () => {
  test("--tail 2: the service's last lines as Talos keeps them; with several nodes each line names its node", async () => {
    const one = await talos("logs", "ext-fos1-agent", "--tail", "2");
    expect(one.exitCode).toBe(0);
    expect(one.stdout).toBe("ready\nconfig reloaded\n");
    const two = await talos("logs", "ext-fos1-agent", "--tail", "1", "-n", "10.0.0.2,10.0.0.3");
    expect(two.stdout).toBe("10.0.0.2: config reloaded\n10.0.0.3: config reloaded\n");
  });

  test("--follow prints new lines until interrupted, then exits 0", async () => {
    const proc = start(["talos", "logs", "ext-fos1-agent", "--follow", "--tail", "0", "--talosconfig", talosconfig]);
    await fake.followed();
    fake.emitLog("ext-fos1-agent", "converged after netlink event");
    const reader = proc.stdout.getReader();
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toBe("converged after netlink event\n");
    reader.releaseLock();
    proc.kill("SIGINT");
    expect(await proc.exited).toBe(0);
  });
});

describe("connection problems: exit 1 with what to check", () => {
  test("a talosconfig whose CA did not sign apid's certificate", async () => {
    const r = await talos("version", "--context", "other-ca");
    expect(r.exitCode).toBe(1);
    expect(logMessages(r)).toContain(`is not signed by the CA (ca) of context "other-ca" of ${talosconfig}`);
  });

  test("a client certificate apid does not trust", async () => {
    const r = await talos("services", "--context", "other-client");
    expect(r.exitCode).toBe(1);
    expect(logMessages(r)).toContain(`refused the client certificate (crt, key) of context "other-client" of ${talosconfig}`);
  });

  test("no talosconfig and not on a Talos node", async () => {
    const r = await run(["talos", "version"]);
    expect(r.exitCode).toBe(1);
    expect(logMessages(r)).toContain(`no talosconfig at ${join(dir, ".talos", "config")}`);
  });
});

describe("usage", () => {
  test.each([
    [[], "a subcommand is needed"],
    [["reboot"], 'unknown subcommand "reboot"'],
    [["logs"], "fos1 talos logs needs the service's id"],
    [["version", "--tail", "3"], "--tail goes with fos1 talos logs, not version"],
    [["logs", "apid", "-o", "json"], "-o json is for version, services and apply-config"],
    [["services", "--socket", "/run/m.sock", "-e", "10.0.0.1"], "--socket talks to machined on this node; --endpoint is for apid"],
    [["version", "--talosconfig", "/nonexistent/talosconfig"], "cannot read talosconfig /nonexistent/talosconfig: no such file"],
    [["version", "--talosconfig", "machine.yaml"], "machine.yaml:6:1: not valid YAML: Source contains multiple documents"],
    [["version", "--talosconfig", "v1alpha1.yaml"], "v1alpha1.yaml:1:1: contexts: no contexts"],
  ])("fos1 talos %p exits 2", async (args, message) => {
    const r = await run(["talos", ...args]);
    expect(r.exitCode).toBe(2);
    expect(logMessages(r)).toContain(message);
  });
});
