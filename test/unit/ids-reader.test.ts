// The IDS reader end to end without the kernel: recorded EVE lines written to a file that is
// tailed (src/ids/eve-file.ts) or sent over Suricata's unix_stream socket
// (eve-socket.ts), through the runner and the block policy into a sink that records what it is
// given, with the Prometheus counters read back. Rotation and truncation as logrotate does
// them, malformed and overlong lines, and an alert storm. Waits poll for the outcome; nothing
// asserts on time.
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, lstatSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { loadConfigText, type LoadedObject } from "../../src/api/load";
import type { ConfigObject } from "../../src/api/kinds";
import { Allowlist, buildAllowlist, NO_HOST_FACTS } from "../../src/ids/allowlist";
import { ALERT_CATEGORIES } from "../../src/ids/category";
import { EveFile } from "../../src/ids/eve-file";
import { EveStreamSocket } from "../../src/ids/eve-socket";
import { createIdsMetrics } from "../../src/ids/metrics";
import { BlockPolicy, type Block, type PolicyOptions } from "../../src/ids/policy";
import { IdsRunner, type IdsRunnerOptions } from "../../src/ids/runner";
import type { BlockSink, SinkResult } from "../../src/ids/sink";
import type { EveSource } from "../../src/ids/source";
import { eventually, memoryLogger } from "../helpers/cluster";
import { samples, value } from "../helpers/prometheus";

const FIXTURE = new URL("./ids/eve-recorded.jsonl", import.meta.url).pathname;
let recorded: string;
let objects: LoadedObject<ConfigObject>[];
let allowlist: Allowlist;

beforeAll(async () => {
  recorded = await Bun.file(FIXTURE).text();
  const path = new URL("./ids/router.yaml", import.meta.url).pathname;
  objects = loadConfigText(await Bun.file(path).text(), path).objects;
  allowlist = buildAllowlist(objects, NO_HOST_FACTS, []);
});

/** A sink that keeps every block it is given; it can be told to refuse. */
class RecordingSink implements BlockSink {
  readonly name = "test";
  readonly added: Block[] = [];
  readonly removed: string[] = [];
  refuse: string | null = null;

  async existing() {
    return [];
  }

  async add(blocks: Block[]): Promise<SinkResult> {
    if (this.refuse) return { written: [], failed: blocks.map((b) => ({ prefix: b.prefix, error: this.refuse! })) };
    this.added.push(...blocks);
    return { written: blocks.map((b) => b.prefix), failed: [] };
  }

  async remove(prefixes: string[]) {
    this.removed.push(...prefixes);
  }

  async tick() {}

  prefixes(): string[] {
    return this.added.map((b) => b.prefix);
  }
}

/** A policy that remembers the most sources that ever waited at once. */
class WatchedPolicy extends BlockPolicy {
  most = 0;
  override consider(...args: Parameters<BlockPolicy["consider"]>) {
    const d = super.consider(...args);
    this.most = Math.max(this.most, this.pendingCount);
    return d;
  }
}

const tmp = mkdtempSync(join(tmpdir(), "fos1-ids-reader-"));
const stops: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

/** What the reader tests do not test: every category blocks, and the rate does not bind (ids-policy.test.ts tests both). */
const READER_POLICY = { severity: 2, ttlMs: 3_600_000, blockOn: ALERT_CATEGORIES, rate: { windowMs: 60_000, perAggregate: 1e6, total: 1e6 }, maxPending: 4096, maxBlocks: 16_384 };

function start(source: EveSource, policyOptions: Partial<PolicyOptions> = {}, runnerOptions: Partial<IdsRunnerOptions> = {}) {
  const registry = new Registry();
  const sink = new RecordingSink();
  const policy = new WatchedPolicy({ ...READER_POLICY, allowlist, ...policyOptions });
  const { log, lines: logLines } = memoryLogger();
  const runner = new IdsRunner({ source, policy, sinks: [sink], metrics: createIdsMetrics(registry, ["test"]), log, flushIntervalMs: 10, ...runnerOptions });
  const abort = new AbortController();
  const done = runner.run(abort.signal);
  stops.push(async () => {
    abort.abort();
    await done;
  });
  const metric = async (name: string, labels: Record<string, string> = {}) => value(samples(await registry.metrics()), name, labels);
  const logged = (text: string) => logLines.some((l) => l.includes(text));
  return { sink, policy, metric, logged };
}

const fileIn = (name: string) => join(tmp, name);
const overlong = () => `{"event_type":"alert","src_ip":"203.0.113.66","alert":{"severity":1,"signature_id":1,"signature":"${"A".repeat(70_000)}"}}\n`;
const alertLine = (ip: string, severity = 2, sid = 2001219) =>
  `${JSON.stringify({ timestamp: "2025-03-14T09:30:00.000000+0000", event_type: "alert", src_ip: ip, dest_ip: "192.168.10.5", proto: "TCP", alert: { action: "allowed", gid: 1, signature_id: sid, rev: 1, signature: "ET SCAN Potential SSH Scan", severity } })}\n`;

describe("the allowlist while the reader runs", () => {
  test("read again while the reader runs: a gateway that appears in a lease later is never blocked from then on", async () => {
    const path = fileIn("refresh.json");
    writeFileSync(path, "");
    let host = NO_HOST_FACTS;
    const read = async () => buildAllowlist(objects, host, []);
    const r = start(new EveFile(path, { pollMs: 10 }), {}, { refreshAllowlist: { read, everyMs: 20 } });
    await eventually("the reader open", () => r.logged("from byte 0"));
    expect(await r.metric("fos1_ids_allowlist_entries", { class: "gateway" })).toBe(0);
    host = { ...NO_HOST_FACTS, leases: [{ ifname: "eth0", gateway: "198.51.100.1", dnsServers: [] }] };
    await eventually("the lease's gateway in the allowlist", async () => (await r.metric("fos1_ids_allowlist_entries", { class: "gateway" })) === 1);
    appendFileSync(path, alertLine("198.51.100.1", 1) + alertLine("198.51.100.2", 1));
    await eventually("the neighbour blocked", () => r.sink.prefixes().includes("198.51.100.2/32"));
    expect(r.sink.prefixes()).toEqual(["198.51.100.2/32"]);
    expect(await r.metric("fos1_ids_alerts_allowlisted_total", { class: "gateway" })).toBe(1);
  });
});

describe("tailing eve.json", () => {
  test("the recorded lines: severe alerts from outside the allowlist become one block per source; everything else is counted", async () => {
    const path = fileIn("recorded.json");
    const r = start(new EveFile(path, { pollMs: 10 }));
    await eventually("the reader waiting for the file", () => r.logged("does not exist (yet)"));
    writeFileSync(path, recorded + overlong() + alertLine("203.0.113.99", 2));
    await eventually("the last line's block", () => r.sink.prefixes().includes("203.0.113.99/32"));
    expect(r.sink.prefixes()).toEqual(["203.0.113.7/32", "2001:db8:bad::17/128", "198.51.100.99/32", "192.0.2.200/32", "203.0.113.99/32"]);
    expect(r.sink.added[0]).toMatchObject({ source: "ids:2001219", signature: "ET SCAN Potential SSH Scan", severity: 2 });

    expect(await r.metric("fos1_ids_eve_lines_total")).toBe(21);
    const malformed = Object.fromEntries(await Promise.all(["overlong", "json", "not_object", "no_event_type", "bad_alert"].map(async (reason) => [reason, await r.metric("fos1_ids_eve_malformed_lines_total", { reason })])));
    expect(malformed).toEqual({ overlong: 1, json: 1, not_object: 1, no_event_type: 1, bad_alert: 2 });
    expect([await r.metric("fos1_ids_alerts_total", { severity: "1" }), await r.metric("fos1_ids_alerts_total", { severity: "2" }), await r.metric("fos1_ids_alerts_total", { severity: "3" })]).toEqual([4, 5, 1]);
    expect(await r.metric("fos1_ids_alerts_skipped_total", { reason: "allowlisted" })).toBe(2); // 10.0.0.50 (management), 0.0.0.0
    expect(await r.metric("fos1_ids_alerts_skipped_total", { reason: "duplicate" })).toBe(2);
    expect(await r.metric("fos1_ids_alerts_skipped_total", { reason: "below_severity" })).toBe(1);
    expect(await r.metric("fos1_ids_blocks_total", { sink: "test" })).toBe(5);
    await eventually("the gauges after the last write", async () => (await r.metric("fos1_ids_blocks_active")) === 5);
    expect(await r.metric("fos1_ids_blocks_pending")).toBe(0);
    expect(await r.metric("fos1_ids_eve_source_up")).toBe(1);
  });

  test("a file that exists at start is read from its end: old alerts are not acted on again", async () => {
    const path = fileIn("existing.json");
    writeFileSync(path, alertLine("203.0.113.1"));
    const r = start(new EveFile(path, { pollMs: 10 }));
    await eventually("the reader at the end of the file", () => r.logged("from byte "));
    appendFileSync(path, alertLine("203.0.113.2"));
    await eventually("the appended alert's block", () => r.sink.added.length > 0);
    expect(r.sink.prefixes()).toEqual(["203.0.113.2/32"]);
  });

  test("rotation: the old file is read to its end (Suricata writes there until it reopens), then the new one from its start", async () => {
    const path = fileIn("rotated.json");
    writeFileSync(path, "");
    const r = start(new EveFile(path, { pollMs: 10 }));
    await eventually("the reader open", () => r.logged("from byte 0"));
    appendFileSync(path, alertLine("203.0.113.10"));
    await eventually("the first block", () => r.sink.added.length === 1);
    renameSync(path, `${path}.1`);
    appendFileSync(`${path}.1`, alertLine("203.0.113.11")); // before Suricata's SIGHUP
    writeFileSync(path, alertLine("203.0.113.12"));
    await eventually("blocks from both files", () => r.sink.added.length === 3);
    expect(r.sink.prefixes().sort()).toEqual(["203.0.113.10/32", "203.0.113.11/32", "203.0.113.12/32"]);
    expect(r.logged("was rotated")).toBe(true);
  });

  test("truncation (copytruncate): the file is read again from its start", async () => {
    const path = fileIn("truncated.json");
    writeFileSync(path, "");
    const r = start(new EveFile(path, { pollMs: 10 }));
    await eventually("the reader open", () => r.logged("from byte 0"));
    appendFileSync(path, alertLine("203.0.113.20") + alertLine("203.0.113.21"));
    await eventually("two blocks", () => r.sink.added.length === 2);
    truncateSync(path, 0);
    await eventually("the truncation seen", () => r.logged("was truncated"));
    appendFileSync(path, alertLine("203.0.113.22"));
    await eventually("the block after the truncation", () => r.sink.added.length === 3);
    expect(r.sink.prefixes()[2]).toBe("203.0.113.22/32");
  });

  test("an alert storm of 10 000 lines from 300 sources: one block per source, the waiting set bounded by the number of sources", async () => {
    const path = fileIn("storm.json");
    writeFileSync(path, "");
    const r = start(new EveFile(path, { pollMs: 10 }));
    await eventually("the reader open", () => r.logged("from byte 0"));
    const lines: string[] = [];
    for (let i = 0; i < 10_000; i++) lines.push(alertLine(`198.51.${100 + ((i % 300) >> 8)}.${(i % 300) & 255}`, 1 + (i % 2)));
    appendFileSync(path, lines.join(""));
    await eventually("10 000 alerts read", async () => (await r.metric("fos1_ids_eve_lines_total")) === 10_000);
    await eventually("every source blocked", () => r.sink.added.length >= 300);
    expect(r.sink.added.length).toBe(300);
    expect(new Set(r.sink.prefixes()).size).toBe(300);
    expect(r.policy.most).toBeLessThanOrEqual(300);
    expect(await r.metric("fos1_ids_alerts_skipped_total", { reason: "duplicate" })).toBe(9700);
  });

  test("a storm from more sources than the bounds allow: the waiting set stays at its bound, the oldest blocks are taken off the sink for new ones, and the rest is counted", async () => {
    const path = fileIn("storm-wide.json");
    writeFileSync(path, "");
    const r = start(new EveFile(path, { pollMs: 10 }), { maxPending: 512, maxBlocks: 2000 });
    await eventually("the reader open", () => r.logged("from byte 0"));
    const lines: string[] = [];
    for (let i = 0; i < 10_000; i++) lines.push(alertLine(`100.64.${i >> 8}.${i & 255}`));
    appendFileSync(path, lines.join(""));
    await eventually("10 000 alerts read", async () => (await r.metric("fos1_ids_eve_lines_total")) === 10_000);
    await eventually("the waiting set written out", async () => r.policy.pendingCount === 0);
    expect(r.policy.most).toBeLessThanOrEqual(512);
    // How many are evicted depends on how reads and writes interleave; what holds always:
    // evicted blocks are taken off the sink, oldest first, and the sink never holds more than the bound.
    await eventually("the evicted blocks taken off the sink", async () => r.sink.removed.length === (await r.metric("fos1_ids_blocks_evicted_total")));
    const removed = new Set(r.sink.removed);
    const live = r.sink.prefixes().filter((p) => !removed.has(p));
    expect(live.length).toBeLessThanOrEqual(2000);
    expect(live.length).toBe(r.policy.activeCount);
    expect(r.sink.prefixes().slice(0, removed.size)).toEqual(r.sink.removed);
    expect(new Set(r.sink.prefixes()).size).toBe(r.sink.added.length);
    expect(await r.metric("fos1_ids_alerts_skipped_total", { reason: "blocks_full" })).toBe(0);
    expect((await r.metric("fos1_ids_alerts_skipped_total", { reason: "pending_full" }))! + r.sink.added.length).toBe(10_000);
  });

  test("a sink that refuses: counted, and the source's next alert tries again", async () => {
    const path = fileIn("refused.json");
    writeFileSync(path, "");
    const r = start(new EveFile(path, { pollMs: 10 }));
    await eventually("the reader open", () => r.logged("from byte 0"));
    r.sink.refuse = "no XDP filter is loaded on this host";
    appendFileSync(path, alertLine("203.0.113.30"));
    await eventually("the refusal counted", async () => (await r.metric("fos1_ids_block_failures_total", { sink: "test" })) === 1);
    expect(r.logged("no XDP filter is loaded on this host")).toBe(true);
    r.sink.refuse = null;
    appendFileSync(path, alertLine("203.0.113.30"));
    await eventually("the block on the next alert", () => r.sink.added.length === 1);
    expect(await r.metric("fos1_ids_alerts_skipped_total", { reason: "duplicate" })).toBe(0);
  });
});

describe("Suricata's unix_stream socket", () => {
  test("records from several connections, split anywhere, become blocks; a stale socket file is replaced", async () => {
    const path = fileIn("eve.sock");
    // A socket file left behind by a process that died, nobody listening (Bun and Node remove theirs on close).
    expect(Bun.spawnSync(["python3", "-c", "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", path]).exitCode).toBe(0);
    expect(lstatSync(path).isSocket()).toBe(true);
    const r = start(new EveStreamSocket(path));
    await eventually("listening", () => r.logged("listening on unix:"));
    // node:net buffers what the socket cannot take at once, as Suricata's writer does.
    const a = createConnection({ path });
    const b = createConnection({ path });
    const bytes = Buffer.from(recorded);
    for (let i = 0; i < bytes.length; i += 7) a.write(bytes.subarray(i, i + 7));
    b.write(alertLine("203.0.113.77", 1));
    await eventually("blocks from both connections", () => r.sink.added.length === 5);
    expect(r.sink.prefixes().sort()).toEqual(["192.0.2.200/32", "198.51.100.99/32", "2001:db8:bad::17/128", "203.0.113.7/32", "203.0.113.77/32"]);
    expect(await r.metric("fos1_ids_eve_malformed_lines_total", { reason: "json" })).toBe(1);
    a.end();
    b.end();
  });

  test("a path that is another file is refused and left alone", async () => {
    const path = fileIn("not-a-socket");
    writeFileSync(path, "keep me");
    const { log } = memoryLogger();
    const runner = new IdsRunner({
      source: new EveStreamSocket(path),
      policy: new BlockPolicy({ ...READER_POLICY, allowlist, maxPending: 10, maxBlocks: 10 }),
      sinks: [],
      metrics: createIdsMetrics(new Registry(), []),
      log,
      flushIntervalMs: 10,
    });
    await expect(runner.run(new AbortController().signal)).rejects.toThrow(`${path} exists and is not a socket`);
    expect(await Bun.file(path).text()).toBe("keep me");
  });
});

process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
