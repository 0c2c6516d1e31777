// `fos1 ids` as a user runs it (the compiled executable under make test): what it refuses
// (exit 2, nothing started), `fos1 ids rules` (the same rules as the translation's ConfigMap,
// one generator), and `fos1 ids run` reading a real EVE file into the cluster's deny policy on
// the FAKE API server (test/helpers/fake-apiserver.ts) with a short TTL, and its /metrics.
// The XDP side runs on a real kernel in test/netns/ids-xdp.test.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { eventually, startFakeCluster } from "../helpers/cluster";
import type { FakeApiServer } from "../helpers/fake-apiserver";
import { fos1, fos1Argv, logMessages } from "../helpers/fos1";
import { samples, value } from "../helpers/prometheus";

const ROUTER = new URL("./ids/router.yaml", import.meta.url).pathname;
const FIXTURE = new URL("./ids/eve-recorded.jsonl", import.meta.url).pathname;
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "fos1-ids-cli-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("fos1 ids: what it refuses (exit 2)", () => {
  const refused = async (args: string[], says: string) => {
    // A state dir with no applied config, whatever this machine has applied.
    const r = await fos1(["ids", ...args, ...(args[0] === "run" ? ["--state-dir", join(dir, "empty-state")] : [])]);
    expect({ exit: r.exitCode, says: logMessages(r).includes(says) ? says : logMessages(r) }).toEqual({ exit: 2, says });
  };

  test("no subcommand, or an unknown one", async () => {
    await refused([], "a subcommand is needed");
    await refused(["watch"], 'unknown subcommand "watch"');
  });

  // Each refusal starts the executable: a few per test keep each within bun's 5 s on a loaded machine.
  test("run: no --eve, or an EVE output fos1 does not read", async () => {
    await refused(["run", "-f", ROUTER], "--eve PATH or --eve unix:PATH is required");
    await refused(["run", "-f", ROUTER, "--eve", "unix_dgram:/run/suricata/eve.sock"], "unix_dgram and other outputs are not read");
    await refused(["run", "-f", ROUTER, "--eve", "unix:eve.sock"], "a unix socket is unix:/absolute/path");
  });

  test("run: a bad severity, TTL, allowlist entry or listen address", async () => {
    await refused(["run", "-f", ROUTER, "--eve", "/tmp/eve.json", "--severity", "0"], '--severity takes a whole number from 1 to 255; got "0"');
    await refused(["run", "-f", ROUTER, "--eve", "/tmp/eve.json", "--ttl", "soon"], '--ttl takes a duration like 90s, 30m or 1h; got "soon"');
    await refused(["run", "-f", ROUTER, "--eve", "/tmp/eve.json", "--allow", "mgmt"], '--allow "mgmt" is not a CIDR');
    await refused(["run", "-f", ROUTER, "--eve", "/tmp/eve.json", "--listen", "localhost:9"], "is not an IP address");
  });

  test("run: options that do not go together", async () => {
    await refused(["run", "-f", ROUTER, "--eve", "/tmp/eve.json", "--no-xdp"], "with --no-xdp, --cluster is needed");
    await refused(["run", "-f", ROUTER, "--eve", "/tmp/eve.json", "--out", "x.rules"], "--out does not go with fos1 ids run");
  });

  test("run: an alert category, or a rate of new blocks, it does not know", async () => {
    await refused(["run", "-f", ROUTER, "--eve", "/tmp/eve.json", "--block-on", "tcp,syn"], '--block-on "tcp,syn": "syn" is not an alert category; give a comma-separated list of tcp-established, tcp, udp, icmp, other');
    await refused(["run", "-f", ROUTER, "--eve", "/tmp/eve.json", "--rate-total", "0"], '--rate-total takes a whole number from 1 to 65536; got "0"');
    await refused(["run", "-f", ROUTER, "--eve", "/tmp/eve.json", "--rate-per-network", "many"], '--rate-per-network takes a whole number from 1 to 65536; got "many"');
  });

  test("run: without a config (none given, none applied) the management networks are unknown, so nothing runs", async () => {
    await refused(["run", "--eve", "/tmp/eve.json"], "no config has been applied on this node: give the config with -f FILE");
  });

  test("run: an invalid config is reported with every problem", async () => {
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "apiVersion: security.fos1.io/v1alpha1\nkind: FirewallZone\nmetadata: {name: mgmt}\nspec: {interfaces: [nic9], management: yes}\n");
    await refused(["run", "-f", bad, "--eve", "/tmp/eve.json"], "nothing was changed");
  });

  test("rules: no config, an option of run, two profiles whose rule ids clash", async () => {
    await refused(["rules"], "-f FILE is required");
    await refused(["rules", "-f", ROUTER, "--eve", "/tmp/eve.json"], "--eve does not go with fos1 ids rules");
    // Names found to draw the same sid for the same rule (the sid is a hash of name and rule).
    const clash = join(dir, "clash.yaml");
    const profile = (name: string) => `apiVersion: security.fos1.io/v1alpha1\nkind: DPIProfile\nmetadata: {name: ${name}}\nspec: {applications: [telnet], actions: {block: [telnet]}}\n`;
    writeFileSync(clash, `${profile("p598")}---\n${profile("p752")}`);
    const out = join(dir, "clash.rules");
    await refused(["rules", "-f", clash, "--out", out], "sid 1691645 is drawn by DPIProfile/p598 and DPIProfile/p752");
    expect(await Bun.file(out).exists()).toBe(false);
  });
});

describe("fos1 ids rules", () => {
  test("the DPIProfile's block list as Suricata rules scoped to its zone: exactly what the translation puts in its ConfigMap", async () => {
    const r = await fos1(["ids", "rules", "-f", ROUTER]);
    expect(r.exitCode).toBe(0);
    const rules = r.stdout.split("\n").filter((l) => l && !l.startsWith("#"));
    const lan = "[192.168.10.0/24,2001:db8:10::/64]";
    expect(rules.map((l) => l.replace(/ sid:\d+; rev:1;\)$/, ""))).toEqual([
      `drop bittorrent-dht ${lan} any -> any any (msg:"fos1 DPIProfile/lan-apps: block bittorrent";`,
      `drop tcp ${lan} any -> any any (msg:"fos1 DPIProfile/lan-apps: block bittorrent (peer handshake)"; flow:to_server,established; content:"|13|BitTorrent protocol"; depth:20;`,
      `drop telnet ${lan} any -> any any (msg:"fos1 DPIProfile/lan-apps: block telnet";`,
      `alert tcp ${lan} any -> any 22 (msg:"fos1 DPIProfile/lan-apps: traffic to port 22 is not ssh"; flow:to_server,established; app-layer-protocol:!ssh;`,
      `drop dns ${lan} any -> any any (msg:"fos1 DPIProfile/lan-apps: block DNS name ads.example.net"; dns.query; content:"ads.example.net"; nocase; startswith; endswith;`,
      `drop dns ${lan} any -> any any (msg:"fos1 DPIProfile/lan-apps: block DNS name *.tracker.example"; dns.query; content:".tracker.example"; nocase; endswith;`,
    ]);
    const translated = await fos1(["translate", "-f", ROUTER, "-o", "json"]);
    const configMap = (JSON.parse(translated.stdout) as { objects: { kind: string; metadata: { name: string }; data?: Record<string, string> }[] }).objects.find((o) => o.metadata.name === "fos1-ids-lan-apps");
    expect(r.stdout).toBe(configMap!.data!["fos1-lan-apps.rules"]!);
  });

  test("--out writes the file (replaced whole), -o json says what went in it", async () => {
    const out = join(dir, "fos1.rules");
    writeFileSync(out, "old rules\n");
    const r = await fos1(["ids", "rules", "-f", ROUTER, "--out", out, "-o", "json"]);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ out, profiles: [{ name: "lan-apps", rules: 6, notes: [] }] });
    expect(await Bun.file(out).text()).toBe((await fos1(["ids", "rules", "-f", ROUTER])).stdout);
    const text = await fos1(["ids", "rules", "-f", ROUTER, "--out", out]);
    expect(text.stdout).toBe(`Wrote 6 Suricata rules from 1 DPIProfile to ${out}.\n`);
  });
});

describe("fos1 ids run against the fake API server", () => {
  let fake: FakeApiServer;
  beforeAll(() => {
    fake = startFakeCluster();
  });
  afterAll(() => fake.stop());

  test("alerts appended to eve.json become the cluster's deny policy, which goes when the TTL runs out; a node of the cluster is never blocked; /metrics counts; SIGTERM ends it with 0", async () => {
    // A router node of the cluster: an alert that names it (forged, on an "established" flow) must not block it.
    const NODE_IP = "172.20.0.11";
    fake.put("nodes", { apiVersion: "v1", kind: "Node", metadata: { name: "router-1" }, status: { addresses: [{ type: "Hostname", address: "router-1" }, { type: "InternalIP", address: NODE_IP }] } });
    const nodeAlert = JSON.stringify({ timestamp: "2025-03-14T09:31:00.000000+0000", event_type: "alert", src_ip: NODE_IP, src_port: 6443, dest_ip: "192.168.10.5", dest_port: 51000, proto: "TCP", app_proto: "tls", alert: { action: "allowed", gid: 1, signature_id: 2030358, rev: 2, signature: "ET MALWARE Observed Malicious SSL Cert", severity: 1 } });
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(kubeconfig, stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "fake", cluster: { server: fake.url, "insecure-skip-tls-verify": true } }],
      users: [{ name: "test", user: { token: "fake-token" } }],
      contexts: [{ name: "fake", context: { cluster: "fake", user: "test" } }],
      "current-context": "fake",
    }));
    const eve = join(dir, "eve.json");
    writeFileSync(eve, "");
    const proc = Bun.spawn([...fos1Argv(), "ids", "run", "--eve", eve, "-f", ROUTER, "--no-xdp", "--kubeconfig", kubeconfig, "--ttl", "3s", "--listen", "127.0.0.1:0"], {
      env: { ...process.env, FOS1_LOG_FORMAT: "json", KUBECONFIG: "", HOME: dir },
      stdout: "ignore",
      stderr: "pipe",
    });
    const log: { msg: string; [k: string]: unknown }[] = [];
    void (async () => {
      let rest = "";
      for await (const chunk of proc.stderr) {
        const parts = (rest + new TextDecoder().decode(chunk)).split("\n");
        rest = parts.pop()!;
        for (const l of parts) if (l.startsWith("{")) log.push(JSON.parse(l));
      }
    })();
    const policy = () => fake.get("ciliumclusterwidenetworkpolicies", "fos1-ids-blocks") as { specs: { ingressDeny: { fromCIDR: string[] }[] }[] } | undefined;
    try {
      const url = await eventually("the metrics address", () => log.find((l) => l.msg === "metrics endpoint listening")?.url as string | undefined);
      await eventually("the reader at the end of eve.json", () => log.some((l) => l.msg.startsWith("reading ")));
      appendFileSync(eve, (await Bun.file(FIXTURE).text()) + nodeAlert + "\n");
      const denied = await eventually("the deny policy with every blocked source", () => {
        const cidrs = policy()?.specs[0]!.ingressDeny[0]!.fromCIDR;
        return cidrs?.length === 2 ? cidrs : undefined;
      });
      // By default only alerts on TCP flows past their handshake block: 203.0.113.7's SYNs and 192.0.2.200's alert could be forged.
      expect(denied).toEqual(["198.51.100.99/32", "2001:db8:bad::17/128"]);
      // The fake API server holds the policy before fos1 has the answer and counts the blocks.
      const metrics = await eventually("the blocks counted", async () => {
        const m = samples(await (await fetch(new URL("/metrics", url))).text());
        return value(m, "fos1_ids_blocks_total", { sink: "cilium" }) === 2 ? m : undefined;
      });
      expect(value(metrics, "fos1_ids_alerts_skipped_total", { reason: "category" })).toBe(3);
      await eventually("the node's alert read", async () => value(samples(await (await fetch(new URL("/metrics", url))).text()), "fos1_ids_alerts_skipped_total", { reason: "allowlisted" }) === 3);
      expect(value(metrics, "fos1_ids_allowlist_entries", { class: "cluster_node" })).toBe(1);
      const after = samples(await (await fetch(new URL("/metrics", url))).text());
      expect(["management", "not_a_host", "cluster_node"].map((c) => value(after, "fos1_ids_alerts_allowlisted_total", { class: c }))).toEqual([1, 1, 1]);
      expect(value(after, "fos1_ids_blocks_total", { sink: "cilium" })).toBe(2); // not the node
      expect(value(metrics, "fos1_ids_eve_malformed_lines_total", { reason: "bad_alert" })).toBe(2);
      expect(value(metrics, "fos1_ids_blocks_total", { sink: "xdp" })).toBeUndefined();

      await eventually("the deny policy removed when the blocks expire", () => policy() === undefined, 30_000);
      // The log comes over a pipe: it may arrive after the API server saw the delete.
      await eventually("the expiry logged", () => log.some((l) => l.msg === "IDS blocks expired and were removed from the cluster's deny policy"));
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
    } finally {
      proc.kill("SIGKILL");
      await proc.exited;
    }
  }, 60_000);
});
