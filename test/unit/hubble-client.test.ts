// The Hubble GetFlows client (src/flows/client.ts) against the FAKE Hubble observer
// (test/unit/hubble/fake-hubble-observer.ts) replaying recorded flows, over a Unix socket and TCP.
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HubbleError, watchFlows } from "../../src/flows/client";
import { flowsRequest, type FlowQuery } from "../../src/flows/request";
import { parseServer } from "../../src/flows/server";
import type { GetFlowsResponse } from "../../src/flows/types";
import { FakeHubbleObserver, readRecordedFlows } from "./hubble/fake-hubble-observer";

const QUICK = { initialMs: 5, maxMs: 20 };
let recorded: GetFlowsResponse[];
let dir: string;
const fakes: FakeHubbleObserver[] = [];

beforeAll(async () => {
  recorded = await readRecordedFlows();
  dir = mkdtempSync(join(tmpdir(), "fos1-hubble-"));
  return () => rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  for (const f of fakes.splice(0)) f.close();
});

async function startFake(address = `unix://${join(dir, `hubble-${fakes.length}-${Date.now()}.sock`)}`) {
  const fake = new FakeHubbleObserver(structuredClone(recorded));
  fakes.push(fake);
  return { fake, server: parseServer(await fake.listen(address)) };
}

async function collect(server: ReturnType<typeof parseServer>, query: Partial<FlowQuery>): Promise<GetFlowsResponse[]> {
  const got: GetFlowsResponse[] = [];
  await watchFlows({ server, request: flowsRequest({ follow: false, verdicts: [], ...query }), onResponse: (r) => got.push(r) });
  return got;
}

const uuids = (rs: GetFlowsResponse[]) => rs.filter((r) => r.flow).map((r) => r.flow!.uuid!.slice(-2));

/** A flow that happens now (after every recorded one), with its own uuid. */
function newFlow(n: number, verdict = "FORWARDED"): GetFlowsResponse {
  const base = structuredClone(recorded[0]!);
  const time = { seconds: String(1_800_000_000 + n), nanos: 0 };
  return { ...base, time, flow: { ...base.flow!, uuid: `new-${n}`, verdict, time } };
}

describe("GetFlows over the node's Unix socket", () => {
  test("receives the recorded flows in order, decoded: enums by name, timestamps, L4/L7 records, lost events", async () => {
    const { server } = await startFake();
    const got = await collect(server, { last: 100 });
    expect(got).toHaveLength(recorded.length);
    expect(uuids(got)).toEqual(["01", "02", "03", "04", "05", "06", "07", "08", "09", "0a", "0b"]);
    const denied = got[2]!.flow!;
    expect(denied.verdict).toBe("DROPPED");
    expect(denied.drop_reason_desc).toBe("POLICY_DENIED");
    expect(denied.time).toEqual({ seconds: "1741944414", nanos: 120000 });
    expect(denied.l4?.TCP).toEqual({ source_port: 40022, destination_port: 8080, flags: { SYN: true } });
    expect(got[3]!.flow!.l7?.dns?.query).toBe("example.com.");
    expect(got[7]!.flow!.IP).toEqual({ source: "2001:db8:20::77", destination: "2606:4700::1111", ipVersion: "IPv6" });
    expect(got[6]!.lost_events).toMatchObject({ source: "HUBBLE_RING_BUFFER", num_events_lost: "3" });
  });

  test("the verdict filter is sent to Hubble, which returns only those flows", async () => {
    const { fake, server } = await startFake();
    const got = await collect(server, { verdicts: ["dropped"] });
    expect(fake.requests[0]!.whitelist).toEqual([{ verdict: ["DROPPED"] }]);
    expect(uuids(got)).toEqual(["03", "06", "08", "09"]);
  });

  test("without --last or --since it asks for Hubble's usual last 20; --last N and --since ask for those", async () => {
    const { fake, server } = await startFake();
    await collect(server, {});
    expect(fake.requests[0]!.number).toBe("20");
    expect(uuids(await collect(server, { last: 2 }))).toEqual(["0a", "0b"]);
    const since = await collect(server, { since: new Date("2025-03-14T09:26:55.500Z") });
    expect(fake.requests[2]!.number).toBeUndefined();
    expect(uuids(since)).toEqual(["08", "09", "0a", "0b"]);
  });

  test("an absent socket fails at once, naming it", async () => {
    const server = parseServer(`unix://${join(dir, "absent.sock")}`);
    const err = await collect(server, {}).catch((e) => e);
    expect(err).toBeInstanceOf(HubbleError);
    expect(err.message).toContain(`Hubble at unix://${join(dir, "absent.sock")} is unavailable`);
  });

  test("a server that refuses the request (here: a filter it does not implement) is a permanent error, even with follow", async () => {
    const { server } = await startFake();
    const request = { ...flowsRequest({ follow: true, verdicts: [] }), whitelist: [{ verdict: [], source_ip: ["192.168.10.23"] }] };
    const err = await watchFlows({ server, request, backoff: QUICK, onResponse: () => {} }).catch((e) => e);
    expect(err).toBeInstanceOf(HubbleError);
    expect(err.message).toContain("INVALID_ARGUMENT");
  });
});

describe("GetFlows over TCP (hubble-relay)", () => {
  test("receives the same flows", async () => {
    const { server } = await startFake("127.0.0.1:0");
    expect(server.unix).toBe(false);
    expect(uuids(await collect(server, { verdicts: ["forwarded"], last: 3 }))).toEqual(["07", "0a", "0b"]);
  });
});

describe("--follow: new flows, and a broken stream is reopened where it stopped", () => {
  test("follow alone asks for new flows only, then streams them as they happen", async () => {
    const { fake, server } = await startFake();
    const got: GetFlowsResponse[] = [];
    const abort = new AbortController();
    const done = watchFlows({ server, request: flowsRequest({ follow: true, verdicts: [] }), signal: abort.signal, backoff: QUICK, onResponse: (r) => got.push(r) });
    await fake.requestsReceived(1);
    expect(fake.requests[0]).toEqual({ follow: true });
    fake.emit(newFlow(1));
    fake.emit(newFlow(2, "DROPPED"));
    await until(() => got.length === 2);
    abort.abort();
    await done;
    expect(got.map((r) => r.flow!.uuid)).toEqual(["new-1", "new-2"]);
  });

  test("the server breaks the stream: the client reopens it since the last flow, without repeating it, and continues", async () => {
    const { fake, server } = await startFake();
    const got: string[] = [];
    const retries: string[] = [];
    const abort = new AbortController();
    const done = watchFlows({
      server,
      request: flowsRequest({ follow: true, verdicts: ["forwarded"], last: 1 }),
      signal: abort.signal,
      backoff: QUICK,
      onResponse: (r) => got.push(r.flow?.uuid ?? "lost"),
      onRetry: (err) => retries.push(err.message),
    });
    await fake.requestsReceived(1);
    fake.emit(newFlow(1));
    await until(() => got.length === 2);
    fake.breakStreams();
    await fake.requestsReceived(2);
    expect(retries[0]).toContain("stream broken on purpose");
    // Resumed at the newest flow received, with the same filter; no count (since wins).
    expect(fake.requests[1]).toEqual({ follow: true, since: newFlow(1).flow!.time!, whitelist: [{ verdict: ["FORWARDED"] }] });
    fake.emit(newFlow(2, "DROPPED"));
    fake.emit(newFlow(3));
    await until(() => got.length === 3);
    abort.abort();
    await done;
    expect(got).toEqual(["7f1c2b9e-0b6d-4c1e-9a1f-00000000000b", "new-1", "new-3"]);
  });

  test("Hubble goes away and comes back on the same socket: the client retries with backoff until it answers", async () => {
    const address = `unix://${join(dir, "restarting.sock")}`;
    const first = await startFake(address);
    const got: string[] = [];
    let retries = 0;
    const abort = new AbortController();
    const done = watchFlows({
      server: first.server,
      request: flowsRequest({ follow: true, verdicts: [] }),
      signal: abort.signal,
      backoff: QUICK,
      onResponse: (r) => got.push(r.flow!.uuid!),
      onRetry: () => retries++,
    });
    await first.fake.requestsReceived(1);
    first.fake.emit(newFlow(1));
    await until(() => got.length === 1);
    first.fake.close();
    await until(() => retries >= 2);
    rmSync(address.slice("unix://".length), { force: true });
    const second = await startFake(address);
    second.fake.emit(newFlow(2));
    await second.fake.requestsReceived(1);
    second.fake.emit(newFlow(3));
    await until(() => got.length === 3);
    abort.abort();
    await done;
    // new-2 happened while fos1 was away: the resumed stream (since new-1) still delivers it.
    expect(got).toEqual(["new-1", "new-2", "new-3"]);
  });
});

/** Waits for a condition the test drives (no timing is asserted; bun's test timeout bounds it). */
async function until(condition: () => boolean) {
  while (!condition()) await Bun.sleep(2);
}
