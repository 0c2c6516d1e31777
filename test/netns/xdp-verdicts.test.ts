// Destination port deny and per-source rate limits of an XDPFilter, with real packets on a
// veth: fos1 applies the filter in the "far" namespace, the "src" namespace sends. UDP to a
// denied port never reaches the listener while another port gets every datagram; a ping flood
// far above the bucket loses packets while a calm source beside it loses none; the per-reason
// counters of `fos1 xdp status -o json` rise by what was dropped. No timing is asserted: the
// flood sends 200 echo requests against a bucket of 10 refilled at 1 per second, and the calm
// source 5. Root; run after make build.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removePinRoot, testPinRoot } from "../helpers/bpffs";
import { destroyAll, ipBatch, nsRun, run } from "./netns";
import { FarFos1 } from "./xdp-fos1";
import { ALLOWED4, ALLOWED6, BLOCKED4, FAR4, FAR6, createXdpPair, reachesFrom } from "./xdp-pair";

const tmp = mkdtempSync(join(tmpdir(), "fos1-xdp-verdicts-"));
const UDP = join(import.meta.dir, "xdp-udp.ts");
const DENIED = 5001;
const OPEN = 5002;
const DATAGRAMS = 20;
const BURST = 10;
const FLOOD = 200;
const CALM = 5;

let src: string;
let far: string;
let pinRoot: string;
let fos1: FarFos1;

beforeAll(async () => {
  pinRoot = testPinRoot("verdicts");
  ({ src, far } = await createXdpPair());
  await ipBatch(far, ["link set lo up"]);
  fos1 = new FarFos1(far, pinRoot, join(tmp, "state"), tmp);
});

afterAll(async () => {
  await destroyAll();
  if (pinRoot) removePinRoot(pinRoot);
  rmSync(tmp, { recursive: true, force: true });
});

const config = (rateLimit: string) => `apiVersion: network.fos1.io/v1alpha1
kind: NetworkInterface
metadata: {name: f0}
spec: {device: f0, addresses: [${FAR4}/24, "${FAR6}/64"]}
---
apiVersion: security.fos1.io/v1alpha1
kind: XDPFilter
metadata: {name: edge}
spec:
  interfaces: [f0]
  denyPorts: [{protocol: udp, port: ${DENIED}}, {protocol: tcp, port: ${DENIED}}]
${rateLimit}`;

const json = <T>(r: { exitCode: number; stdout: string; stderr: string }, what: string): T => {
  const line = r.stdout.trim().split("\n").pop() ?? "";
  if (r.exitCode !== 0 || !line.startsWith("{")) throw new Error(`${what} failed (exit ${r.exitCode}):\n${r.stdout}${r.stderr}`);
  return JSON.parse(line) as T;
};

/**
 * DATAGRAMS UDP datagrams from `from` to the denied port, then as many to the open one, with a
 * listener on both in the far namespace; what it counted once the open port had them all.
 */
async function udpToBothPorts(from: string, to: string): Promise<Record<number, number>> {
  const listener = Bun.spawn(["nsenter", `--net=/run/netns/${far}`, process.execPath, UDP, "count", to, `${DENIED},${OPEN}`, String(OPEN), String(DATAGRAMS)], { stdout: "pipe", stderr: "pipe" });
  const lines = listener.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const first = await lines.read();
  if (!first.value?.includes('"ready"')) throw new Error(`the UDP listener did not start: ${first.value ?? ""}${await new Response(listener.stderr).text()}`);
  for (const port of [DENIED, OPEN]) {
    const sent = json<{ sent: number }>(await run(["nsenter", `--net=/run/netns/${src}`, process.execPath, UDP, "send", from, to, String(port), "1", String(DATAGRAMS)]), `send to ${to}:${port}`);
    expect(sent.sent).toBe(DATAGRAMS);
  }
  let out = first.value.slice(first.value.indexOf("\n") + 1);
  for (let chunk = await lines.read(); !chunk.done; chunk = await lines.read()) out += chunk.value;
  await listener.exited;
  return json<{ counts: Record<number, number> }>({ exitCode: listener.exitCode ?? 1, stdout: out, stderr: "" }, "the UDP listener").counts;
}

/** iputils ping's summary: echo requests sent and replies received. */
async function ping(from: string, to: string, args: string[]): Promise<{ sent: number; received: number }> {
  const r = await nsRun(src, ["ping", "-n", "-q", ...args, "-I", from, to]);
  const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
  if (!m) throw new Error(`ping ${args.join(" ")} from ${from} printed no summary (exit ${r.exitCode}):\n${r.stdout}${r.stderr}`);
  return { sent: Number(m[1]), received: Number(m[2]) };
}

describe("XDPFilter port deny and rate limit with real packets", () => {
  test("UDP to a denied port is dropped in XDP, another port gets every datagram (IPv4 and IPv6); drop_port counts each", async () => {
    expect((await fos1.apply(config(""))).converged).toBe(true);
    const before = await fos1.counter("edge", "drop_port");
    for (const [from, to] of [[ALLOWED4, FAR4], [ALLOWED6, FAR6]] as const) {
      const counts = await udpToBothPorts(from, to);
      expect({ from, counts }).toEqual({ from, counts: { [DENIED]: 0, [OPEN]: DATAGRAMS } });
    }
    expect((await fos1.counter("edge", "drop_port")) - before).toBe(2 * DATAGRAMS);
    expect(await fos1.counter("edge", "drop_rate")).toBe(0);
  });

  test("TCP to the denied port gets no answer at all (its SYNs are dropped), another port answers with a reset", async () => {
    const before = await fos1.counter("edge", "drop_port");
    // No listener on either port: a SYN that gets through is answered with a RST at once.
    const probe = (port: number) => nsRun(src, ["busybox", "nc", "-w", "2", FAR4, String(port)], { stdin: "" });
    expect((await probe(OPEN)).stderr).toContain("Connection refused");
    expect((await probe(DENIED)).stderr).not.toContain("Connection refused");
    expect((await fos1.counter("edge", "drop_port")) - before).toBeGreaterThan(0);
  });

  test("a ping flood far above its source's bucket is cut down to about the burst while a calm source beside it loses nothing; drop_rate counts the difference", async () => {
    // Neighbours resolved before the limit is on: no request or reply of the flood waits for ARP.
    expect(await reachesFrom(src, BLOCKED4, FAR4)).toBe(true);
    const r = await fos1.apply(config(`  rateLimit: {packetsPerSecond: 1, burst: ${BURST}}\n`));
    expect(r.converged).toBe(true);
    // The filter had no room for buckets: it is loaded again with its rate map sized, filled,
    // and swapped in for the running program.
    expect(r.ops.map((o) => o.subject)).toEqual(["XDP filter edge", "XDP deny port udp/5001 (edge)", "XDP deny port tcp/5001 (edge)", "XDP rate limit (edge)", "XDP on f0"]);
    expect(r.ops[0]!.detail).toContain("no rate-limit buckets → capacity 65,536 IPv4, 65,536 IPv6; 65,536 rate-limited sources");
    const before = await fos1.counter("edge", "drop_rate");

    const [flood, calm] = await Promise.all([ping(BLOCKED4, FAR4, ["-f", "-c", String(FLOOD)]), ping(ALLOWED4, FAR4, ["-c", String(CALM), "-i", "0.2"])]);
    const dropped = (await fos1.counter("edge", "drop_rate")) - before;
    console.log(`flood: ${flood.received}/${flood.sent} answered; calm: ${calm.received}/${calm.sent}; drop_rate +${dropped}`);
    expect(calm).toEqual({ sent: CALM, received: CALM });
    expect(flood.sent).toBe(FLOOD);
    expect(flood.received).toBeLessThan(FLOOD);
    // A new source's bucket starts full: the first BURST requests always pass.
    expect(flood.received).toBeGreaterThanOrEqual(BURST);
    expect(dropped).toBeGreaterThan(0);
    // Every request the counter says was dropped went unanswered (a late reply may go uncounted by ping).
    expect(dropped).toBeLessThanOrEqual(flood.sent - flood.received);
  });
});
