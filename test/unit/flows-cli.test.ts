// `fos1 flows` as the operator runs it (the compiled dist/fos1 under make test, started from
// another directory), against the FAKE Hubble observer (test/unit/hubble/fake-hubble-observer.ts)
// over a Unix socket and over TCP.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Journal } from "../../src/journal/journal";
import type { GetFlowsResponse } from "../../src/flows/types";
import { fos1Argv, logMessages, type CliResult } from "../helpers/fos1";
import { FakeHubbleObserver, readRecordedFlows } from "./hubble/fake-hubble-observer";

const ROUTER = new URL("./hubble/router.yaml", import.meta.url).pathname;
let dir: string;
let fake: FakeHubbleObserver;
let unixServer: string;
let tcpServer: string;
let recorded: GetFlowsResponse[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "fos1-flows-"));
  recorded = await readRecordedFlows();
  fake = new FakeHubbleObserver(structuredClone(recorded));
  unixServer = await fake.listen(`unix://${join(dir, "hubble.sock")}`);
  tcpServer = await fake.listen("127.0.0.1:0");
});

afterAll(() => {
  fake.close();
  rmSync(dir, { recursive: true, force: true });
});

/** fos1 started in the test's temporary directory, not the repository. */
function start(args: string[]) {
  return Bun.spawn([...fos1Argv(), ...args], { cwd: dir, stdout: "pipe", stderr: "pipe", stdin: "ignore", env: { ...process.env, FOS1_LOG_FORMAT: "json" } });
}

async function run(args: string[]): Promise<CliResult> {
  const proc = start(args);
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { exitCode, stdout, stderr };
}

const emptyStateDir = () => mkdtempSync(join(dir, "state-"));

const LAN_DROPS = [
  "2025-03-14T09:26:54.000Z DROPPED    lan 192.168.10.23:40022 -> host 192.168.10.1:8080 tcp/8080 (http-alt) POLICY_DENIED by router-host-input",
  "2025-03-14T09:26:55.010Z DROPPED    wan 198.51.100.7:33000 -> lan default/web-7d9c5b8f6-x2k4q 10.0.1.15:80 tcp/80 (http) POLICY_DENY by default/deny-wan-web",
  "2025-03-14T09:26:55.700Z DROPPED    wan [2001:db8:bad::66]:61000 -> lan [2001:db8:10::23]:23 tcp/23 (telnet) POLICY_DENIED",
];

describe("fos1 flows", () => {
  test("--zone lan --verdict dropped over the Unix socket: one line per flow, lan on either side, dropped only", async () => {
    const r = await run(["flows", "--server", unixServer, "-f", ROUTER, "--zone", "lan", "--verdict", "dropped", "--state-dir", emptyStateDir()]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trimEnd().split("\n")).toEqual(LAN_DROPS);
    // Hubble lost events during the recording: said on stderr, never mixed into the flow lines.
    expect(logMessages(r)).toContain("Hubble lost 3 flow events (HUBBLE_RING_BUFFER)");
  });

  test("the same over TCP (hubble-relay), as JSON lines for scripts", async () => {
    const r = await run(["flows", "--server", tcpServer, "-f", ROUTER, "--zone", "lan", "--verdict", "dropped", "-o", "json", "--state-dir", emptyStateDir()]);
    expect(r.exitCode).toBe(0);
    const flows = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(flows.map((f) => [f.time, f.source.zone, f.destination.zone, f.verdict, f.dropReason, f.application])).toEqual([
      ["2025-03-14T09:26:54.000120000Z", "lan", "host", "dropped", "POLICY_DENIED", "http-alt"],
      ["2025-03-14T09:26:55.010000000Z", "wan", "lan", "dropped", "POLICY_DENY", "http"],
      ["2025-03-14T09:26:55.700000000Z", "wan", "lan", "dropped", "POLICY_DENIED", "telnet"],
    ]);
  });

  test("without -f the zones are those of the config in force on the node (the state dir's last-known-good)", async () => {
    const stateDir = emptyStateDir();
    const journal = new Journal(stateDir);
    const text = await Bun.file(ROUTER).text();
    const entry = Journal.entryFor(text, "test");
    journal.begin(entry, text);
    journal.commit(entry, {});
    const r = await run(["flows", "--server", unixServer, "--zone", "guest", "--state-dir", stateDir]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain("FORWARDED  guest [2001:db8:20::77]:50100 -> wan [2606:4700::1111]:443 tcp/443 (https)");
    expect(r.stdout).toContain("DROPPED    guest 192.168.20.77:5353 -> host 192.168.20.1:5353 udp/5353 (mdns) VLAN_FILTERED");
    expect(r.stdout.trimEnd().split("\n")).toHaveLength(2);
  });

  test("--follow prints flows as they happen, carries on after the server breaks the stream, and exits 0 when stopped", async () => {
    const followed = new FakeHubbleObserver([]);
    const server = await followed.listen(`unix://${join(dir, "follow.sock")}`);
    const proc = start(["flows", "--follow", "--server", server, "-f", ROUTER, "--verdict", "dropped", "--state-dir", emptyStateDir()]);
    const nextLine = lineReader(proc.stdout);
    try {
      await followed.requestsReceived(1);
      followed.emit(recorded[0]!); // forwarded: Hubble filters it out
      followed.emit(recorded[2]!);
      expect(await nextLine()).toBe(LAN_DROPS[0]!);
      followed.breakStreams();
      await followed.requestsReceived(2);
      followed.emit(recorded[5]!);
      expect(await nextLine()).toBe(LAN_DROPS[1]!);
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
      expect(await nextLine()).toBeNull();
      expect(await new Response(proc.stderr).text()).toContain("stream broken on purpose; retrying in");
    } finally {
      proc.kill();
      followed.close();
    }
  });

  test("no Hubble at the socket: exit 1, naming where it looked", async () => {
    const r = await run(["flows", "--server", `unix://${join(dir, "absent.sock")}`, "--state-dir", emptyStateDir()]);
    expect(r.exitCode).toBe(1);
    expect(logMessages(r)).toContain(`Hubble at unix://${join(dir, "absent.sock")} is unavailable`);
  });

  const bad: [string, string[], string][] = [
    ["an unknown verdict", ["--verdict", "drop"], '--verdict "drop" is not a Hubble verdict; allowed: forwarded, dropped, error, audit, redirected, traced, translated'],
    ["a zone the config does not have", ["-f", ROUTER, "--zone", "dmz"], '--zone "dmz" is not a zone of the config; zones: guest, lan, mgmt, wan, host, unknown'],
    ["--zone with no config at all", ["--zone", "lan"], "--zone lan: no config to take zones from"],
    ["a server that is not an address", ["--server", "hubble-relay"], 'server "hubble-relay": not a host:port'],
    ["a relative Unix socket", ["--server", "unix://hubble.sock"], "a Unix socket is written unix:///absolute/path"],
    ["TLS on a Unix socket", ["--tls"], "TLS options are for a TCP server"],
    ["a client certificate without its key", ["--server", "relay:4245", "--tls-cert", ROUTER], "a TLS client certificate needs its key"],
    ["an unreadable CA file", ["--server", "relay:4245", "--tls-ca", "/nonexistent/ca.pem"], "--tls-ca /nonexistent/ca.pem: cannot read it"],
    ["a --since that is neither a duration nor a time", ["--since", "yesterday"], '--since takes a duration (90s, 30m, 2h) or an RFC 3339 time'],
    ["--last that is not a count", ["--last", "0"], "--last takes a number of flows (1 or more)"],
    ["--since with --last", ["--since", "5m", "--last", "3"], "--since and --last are alternatives"],
  ];
  for (const [what, args, message] of bad)
    test(`bad input exits 2 before connecting: ${what}`, async () => {
      const before = fake.requests.length;
      const r = await run(["flows", "--server", unixServer, "--state-dir", emptyStateDir(), ...args]);
      expect(r.exitCode).toBe(2);
      expect(logMessages(r)).toContain(message);
      expect(r.stdout).toBe("");
      expect(fake.requests.length).toBe(before);
    });

  test("is listed by fos1 --help and explains itself with --help", async () => {
    const top = await run(["--help"]);
    expect(top.stdout).toMatch(/^  flows +flows Hubble observed/m);
    const own = await run(["flows", "--help"]);
    expect(own.exitCode).toBe(0);
    expect(own.stdout).toContain("usage: fos1 flows [--follow] [--zone Z] [--verdict V]...");
  });
});

function lineReader(stream: ReadableStream<Uint8Array>): () => Promise<string | null> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  return async () => {
    for (;;) {
      const newline = buffered.indexOf("\n");
      if (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        return line;
      }
      const { value, done } = await reader.read();
      if (done) return buffered ? buffered : null;
      buffered += decoder.decode(value, { stream: true });
    }
  };
}
