// `fos1 ids run` on this machine's kernel: alert lines appended to an EVE file make a real XDP
// filter (XDPFilter edge on f0, applied by fos1) drop packets from the alert's source, IPv4 and
// IPv6; `fos1 xdp list` shows the block with its TTL; the management zone and --allow are never
// blocked; a short-TTL block is removed by fos1 agent when it expires. The "src" namespace pings
// the "far" one over s0–f0 (test/netns/xdp-pair.ts). Root; run after make build (dist/bpf).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removePinRoot, testPinRoot } from "../helpers/bpffs";
import { waitUntil } from "../helpers/netns";
import { samples, value } from "../helpers/prometheus";
import { destroyAll, ipBatch } from "./netns";
import { FarFos1 } from "./xdp-fos1";
import { ALLOWED4, BLOCKED4, BLOCKED6, FAR4, FAR6, createXdpPair, pingOnceFrom, reachesFrom } from "./xdp-pair";

const tmp = mkdtempSync(join(tmpdir(), "fos1-ids-xdp-"));
const stateDir = join(tmp, "state");
const configFile = join(tmp, "config.yaml");
const EXPIRING4 = "192.0.2.3"; // blocked with a 2 s TTL
const MGMT_HOST = "198.18.9.7"; // in the management zone's network

let src: string;
let far: string;
let pinRoot: string;
let fos1: FarFos1;

const CONFIG = `apiVersion: network.fos1.io/v1alpha1
kind: NetworkInterface
metadata: {name: f0}
spec: {device: f0, addresses: [${FAR4}/24, "${FAR6}/64"]}
---
apiVersion: network.fos1.io/v1alpha1
kind: NetworkInterface
metadata: {name: mgmt0}
spec: {bridge: {members: []}, addresses: [198.18.9.1/24]}
---
apiVersion: security.fos1.io/v1alpha1
kind: FirewallZone
metadata: {name: edge}
spec: {interfaces: [f0], input: accept, forward: drop}
---
apiVersion: security.fos1.io/v1alpha1
kind: FirewallZone
metadata: {name: mgmt}
spec: {interfaces: [mgmt0], management: true}
---
apiVersion: security.fos1.io/v1alpha1
kind: XDPFilter
metadata: {name: edge}
spec: {interfaces: [f0], blocklist: [203.0.113.0/24]}
`;

beforeAll(async () => {
  pinRoot = testPinRoot("ids");
  ({ src, far } = await createXdpPair());
  await ipBatch(src, [`address add ${EXPIRING4}/24 dev s0`]);
  await ipBatch(far, ["link set lo up"]);
  fos1 = new FarFos1(far, pinRoot, stateDir, tmp);
  writeFileSync(configFile, CONFIG);
  const applied = await fos1.apply(CONFIG);
  if (!applied.converged) throw new Error(`the test config did not converge: ${JSON.stringify(applied.failed)}`);
});

afterAll(async () => {
  await destroyAll();
  if (pinRoot) removePinRoot(pinRoot);
  rmSync(tmp, { recursive: true, force: true });
});

/** An alert on an established TCP flow (app_proto set): the category that blocks by default. */
const alertLine = (ip: string, severity: number, sid = 2001219, signature = "ET SCAN Potential SSH Scan") =>
  `${JSON.stringify({ timestamp: new Date().toISOString(), flow_id: 1, in_iface: "f0", event_type: "alert", src_ip: ip, src_port: 40000, dest_ip: FAR4, dest_port: 22, proto: "TCP", app_proto: "ssh", alert: { action: "allowed", gid: 1, signature_id: sid, rev: 1, signature, category: "Attempted Information Leak", severity } })}\n`;
const dropped = (reason: string) => fos1.counter("edge", reason);

describe("Suricata alerts become XDP blocks", () => {
  test("an alert appended to eve.json cuts its source off at XDP (IPv4 and IPv6); xdp list shows the blocks with their TTL; management and --allow sources stay", async () => {
    const eve = join(tmp, "eve.json");
    writeFileSync(eve, alertLine(BLOCKED4, 1)); // already there when the reader starts: not acted on
    const ids = fos1.spawn(["ids", "run"], ["--eve", eve, "-f", configFile, "--state-dir", stateDir, "--ttl", "1h", "--allow", `${ALLOWED4}/32`, "--listen", "127.0.0.1:0"]);
    try {
      await ids.waitForLog("the reader at the end of eve.json", (l) => l.msg.startsWith("reading ") && l.msg.includes("from byte"));
      expect(await reachesFrom(src, BLOCKED4, FAR4)).toBe(true);
      expect(await reachesFrom(src, BLOCKED6, FAR6)).toBe(true);
      const before = { v4: await dropped("drop_block_v4"), v6: await dropped("drop_block_v6") };

      const t0 = Date.now();
      appendFileSync(eve, [
        alertLine(BLOCKED4, 2),
        alertLine(ALLOWED4, 1), // --allow
        alertLine(MGMT_HOST, 1), // the management zone's network
        '{"event_type":"alert","src_ip":"192.0.2.9","alert":{"sev', // torn: skipped, counted
        alertLine("2001:0db8:0007:0000:0000:0000:0000:0001", 1, 2034647, "ET EXPLOIT Apache log4j RCE Attempt (http ldap) (CVE-2021-44228)"), // BLOCKED6, Suricata's long form
      ].join("\n") + "\n");
      await waitUntil("XDP dropping the IPv4 source", async () => !(await pingOnceFrom(src, BLOCKED4, FAR4)), 20_000);
      await waitUntil("XDP dropping the IPv6 source", async () => !(await pingOnceFrom(src, BLOCKED6, FAR6)), 20_000);
      const t1 = Date.now();
      expect(await dropped("drop_block_v4")).toBeGreaterThan(before.v4);
      expect(await dropped("drop_block_v6")).toBeGreaterThan(before.v6);
      expect(await reachesFrom(src, ALLOWED4, FAR4)).toBe(true);

      const listed = (await fos1.list()).filter((e) => e.source === "dynamic");
      expect(listed.map((e) => `${e.filter} ${e.prefix}`).sort()).toEqual([`edge ${BLOCKED4}/32`, `edge ${BLOCKED6}/128`]);
      for (const e of listed) {
        const expires = Date.parse(e.expires!);
        expect(expires).toBeGreaterThanOrEqual(t0 + 3_600_000 - 1000); // ISO times carry milliseconds; slack for the clock only
        expect(expires).toBeLessThanOrEqual(t1 + 3_600_000);
      }

      const logged = (pred: (l: { msg: string; [k: string]: unknown }) => boolean) => ids.lines.filter(pred);
      expect(logged((l) => l.msg === "alert from an allowlisted source: not blocked").map((l) => [l.source, l.why])).toEqual([
        [`${ALLOWED4}/32`, `allowed by --allow (${ALLOWED4}/32)`],
        [`${MGMT_HOST}/32`, "management zone mgmt (198.18.9.0/24)"],
      ]);
      const url = (await ids.waitForLog("the metrics endpoint", (l) => l.msg === "metrics endpoint listening")).url as string;
      const metrics = samples((await ids.get(new URL("/metrics", url).href)).body);
      expect(value(metrics, "fos1_ids_blocks_total", { sink: "xdp" })).toBe(2);
      expect(value(metrics, "fos1_ids_alerts_skipped_total", { reason: "allowlisted" })).toBe(2);
      expect(value(metrics, "fos1_ids_eve_malformed_lines_total", { reason: "json" })).toBe(1);
      expect(value(metrics, "fos1_ids_blocks_active")).toBe(2);

      expect(await ids.stop("SIGTERM")).toBe(0);
    } finally {
      ids.kill("SIGKILL");
    }
  }, 90_000);

  test("a block whose TTL runs out is taken off the filter by fos1 agent; the long one stays", async () => {
    const eve = join(tmp, "eve-short.json");
    writeFileSync(eve, "");
    const ids = fos1.spawn(["ids", "run"], ["--eve", eve, "-f", configFile, "--state-dir", stateDir, "--ttl", "2s"]);
    try {
      await ids.waitForLog("the reader open", (l) => l.msg.startsWith("reading "));
      appendFileSync(eve, alertLine(EXPIRING4, 2) + alertLine(BLOCKED4, 2));
      // No agent runs yet: the expired entry stays in the map, so this wait cannot miss it.
      await waitUntil("XDP dropping the short-TTL source", async () => !(await pingOnceFrom(src, EXPIRING4, FAR4)), 20_000);
      expect(await ids.stop("SIGTERM")).toBe(0);
      // Blocked by the first reader for an hour: known from the state dir, not blocked again with 2 s.
      expect(ids.has((l) => l.msg === "blocked a source Suricata alerted on" && l.prefix === `${BLOCKED4}/32`)).toBe(false);
    } finally {
      ids.kill("SIGKILL");
    }

    const agent = fos1.spawn(["agent"], ["-f", configFile, "--state-dir", stateDir, "--listen", "127.0.0.1:0"]);
    try {
      await waitUntil("the agent removing the expired block", async () => !existsSync(join(stateDir, "xdp-dynamic", `${EXPIRING4}_32.json`)), 20_000);
      expect(await reachesFrom(src, EXPIRING4, FAR4)).toBe(true);
      expect(await pingOnceFrom(src, BLOCKED4, FAR4)).toBe(false);
      expect(fos1.pinnedBlocked("edge")).toEqual([`${BLOCKED4}/32`, "203.0.113.0/24", `${BLOCKED6}/128`].sort());
    } finally {
      await agent.stop("SIGTERM");
    }
  }, 90_000);
});
