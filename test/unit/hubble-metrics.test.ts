// From recorded Hubble flows to fos1's flow summaries and Prometheus counters by zone pair,
// verdict and application (src/flows/summary.ts, metrics.ts, feed.ts); the feed runs
// against the FAKE Hubble observer (test/unit/hubble/fake-hubble-observer.ts).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { loadConfigText } from "../../src/api/load";
import { Logger } from "../../src/base/log";
import { startFlowFeed } from "../../src/flows/feed";
import { createFlowMetrics } from "../../src/flows/metrics";
import { parseServer } from "../../src/flows/server";
import { summarizeFlow, type FlowSummary } from "../../src/flows/summary";
import type { GetFlowsResponse } from "../../src/flows/types";
import { zoneMapFromConfig, type ZoneMap } from "../../src/flows/zones";
import { FakeHubbleObserver, readRecordedFlows } from "./hubble/fake-hubble-observer";

let recorded: GetFlowsResponse[];
let zones: ZoneMap;
let summaries: FlowSummary[];

beforeAll(async () => {
  recorded = await readRecordedFlows();
  const path = new URL("./hubble/router.yaml", import.meta.url).pathname;
  zones = zoneMapFromConfig(loadConfigText(await Bun.file(path).text(), path).objects);
  summaries = recorded.filter((r) => r.flow).map((r) => summarizeFlow(r.flow!, zones));
});

const brief = (s: FlowSummary) => `${s.source.zone}>${s.destination.zone} ${s.verdict} ${s.protocol} ${s.application}${s.policyDrop ? ` policy-drop ${s.dropReason}` : s.dropReason ? ` drop ${s.dropReason}` : ""}`;

describe("flow summaries", () => {
  test("each recorded flow gets its zones, verdict, protocol, application and drop reason", () => {
    expect(summaries.map(brief)).toEqual([
      "lan>wan forwarded tcp https",
      "wan>lan forwarded tcp https", // a reply: the service is the source port, 443
      "lan>host dropped tcp http-alt policy-drop POLICY_DENIED",
      "lan>host forwarded udp dns",
      "lan>wan forwarded icmp icmp",
      "wan>lan dropped tcp http policy-drop POLICY_DENY", // a pod labelled zone=lan
      "guest>wan forwarded tcp https",
      "wan>lan dropped tcp telnet policy-drop POLICY_DENIED",
      "guest>host dropped udp mdns drop VLAN_FILTERED", // dropped, but not by a policy
      "lan>host forwarded icmpv6 icmpv6",
      "mgmt>host forwarded tcp kubernetes-api",
    ]);
  });

  test("the details an operator reads: denying policy, pod name, L7 record, ICMP type, reply, nanosecond time", () => {
    expect(summaries[2]!.policies).toEqual(["router-host-input"]);
    expect(summaries[5]!.destination).toEqual({ ip: "10.0.1.15", port: 80, zone: "lan", name: "default/web-7d9c5b8f6-x2k4q", identity: 48213 });
    expect(summaries[3]!.l7).toBe("DNS query example.com. A");
    expect(summaries[4]!.icmp).toEqual({ type: 8, code: 0 });
    expect(summaries[1]!.reply).toBe(true);
    expect(summaries[4]!.time).toBe("2025-03-14T09:26:54.500000001Z");
  });

  test("a Hubble that fills only the old numeric drop_reason still yields the policy drop", () => {
    const { drop_reason_desc: _, ...old } = recorded[2]!.flow!;
    const s = summarizeFlow(old, zones);
    expect([s.dropReason, s.policyDrop]).toEqual(["POLICY_DENIED", true]);
  });

  test("an unknown service port is 'other', keeping the metrics' label values bounded", () => {
    const flow = structuredClone(recorded[0]!.flow!);
    flow.l4 = { TCP: { source_port: 40000, destination_port: 31337 } };
    expect(summarizeFlow(flow, zones).application).toBe("other");
  });
});

describe("metrics", () => {
  test("fos1_flows_total counts by zone pair, verdict, protocol and application; fos1_policy_drops_total only policy drops", async () => {
    const registry = new Registry();
    const metrics = createFlowMetrics(registry);
    // The recorded flows twice: every series counts 2.
    for (const s of [...summaries, ...summaries]) metrics.flow(s);
    const text = await registry.metrics();
    expect(text).toContain('fos1_flows_total{zone_from="lan",zone_to="wan",verdict="forwarded",protocol="tcp",application="https"} 2');
    expect(text).toContain('fos1_flows_total{zone_from="wan",zone_to="lan",verdict="dropped",protocol="tcp",application="telnet"} 2');
    expect(text).toContain('fos1_flows_total{zone_from="guest",zone_to="host",verdict="dropped",protocol="udp",application="mdns"} 2');
    expect(text).toContain('fos1_flows_total{zone_from="lan",zone_to="host",verdict="forwarded",protocol="udp",application="dns"} 2');
    expect(text).toContain('fos1_policy_drops_total{zone_from="lan",zone_to="host",protocol="tcp",application="http-alt",reason="POLICY_DENIED",policy="router-host-input"} 2');
    expect(text).toContain('fos1_policy_drops_total{zone_from="wan",zone_to="lan",protocol="tcp",application="http",reason="POLICY_DENY",policy="default/deny-wan-web"} 2');
    expect(text).toContain('fos1_policy_drops_total{zone_from="wan",zone_to="lan",protocol="tcp",application="telnet",reason="POLICY_DENIED",policy="unknown"} 2');
    expect(text).not.toContain('reason="VLAN_FILTERED"');
    expect(text).toContain("# TYPE fos1_flows_total counter");

    // Aggregated as a dashboard would: sum by zone and verdict.
    const values = (await registry.getSingleMetric("fos1_flows_total")!.get()).values;
    const sum = (pred: (l: Record<string, unknown>) => boolean) => values.filter((v) => pred(v.labels)).reduce((a, v) => a + v.value, 0);
    expect(sum((l) => l.zone_to === "lan" && l.verdict === "dropped")).toBe(4);
    expect(sum((l) => l.zone_from === "lan" && l.verdict === "forwarded")).toBe(8);
    expect(sum((l) => l.zone_to === "host")).toBe(10);
    expect(sum(() => true)).toBe(22);
  });
});

describe("the agent's flow feed, against the fake Hubble", () => {
  let dir: string;
  beforeAll(() => void (dir = mkdtempSync(join(tmpdir(), "fos1-feed-"))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("counts new flows and lost events by zone, and records the stream breaking and coming back", async () => {
    const fake = new FakeHubbleObserver([]);
    const server = parseServer(await fake.listen(`unix://${join(dir, "hubble.sock")}`));
    const registry = new Registry();
    const lines: string[] = [];
    const log = new Logger({ write: (l) => void lines.push(l), isTTY: false }, "debug");
    const feed = startFlowFeed({ server, zones: () => zones, metrics: createFlowMetrics(registry), log, backoff: { initialMs: 5, maxMs: 20 } });
    const value = async (name: string, labels: Record<string, string> = {}) =>
      (await registry.getSingleMetric(name)!.get()).values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
    try {
      await fake.requestsReceived(1);
      expect(fake.requests[0]).toEqual({ follow: true });
      for (const r of recorded) fake.emit(r);
      await until(async () => (await value("fos1_flows_total", { zone_from: "mgmt" })) === 1);
      expect(await value("fos1_policy_drops_total", { zone_to: "lan", application: "telnet" })).toBe(1);
      expect(await value("fos1_hubble_lost_events_total", { source: "HUBBLE_RING_BUFFER" })).toBe(3);
      expect(await value("fos1_hubble_connected")).toBe(1);

      fake.breakStreams();
      await fake.requestsReceived(2);
      expect(await value("fos1_hubble_stream_failures_total")).toBe(1);
      fake.emit({ ...recorded[0]!, time: { seconds: "1800000000", nanos: 0 }, flow: { ...recorded[0]!.flow!, uuid: "after-break", time: { seconds: "1800000000", nanos: 0 } } });
      await until(async () => (await value("fos1_flows_total", { zone_from: "lan", zone_to: "wan", application: "https" })) === 2);
      expect(await value("fos1_hubble_connected")).toBe(1);
      // The resumed stream replays from the last flow counted; it is not counted again.
      expect(await value("fos1_flows_total", { zone_from: "mgmt" })).toBe(1);
      expect(lines.join("")).toContain("stream broken on purpose");
    } finally {
      await feed.stop();
      fake.close();
    }
  });
});

async function until(condition: () => Promise<boolean>) {
  while (!(await condition())) await Bun.sleep(2);
}
