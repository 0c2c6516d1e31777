// The Talos API client against the FAKE Talos API (test/unit/talos-api/fake-talos-api.ts): as
// apid over TCP with mutual TLS (certificates made by openssl in the test, Ed25519 as Talos's),
// and as machined over a Unix socket without TLS.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { createSecureServer, type IncomingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TalosClient } from "../../src/talos/client";
import { TalosApiError } from "../../src/talos/errors";
import type { TalosTarget } from "../../src/talos/target";
import { makeTestPki, type Pem, type TestPki } from "./talos-api/certs";
import { FAKE_VERSION, FakeTalosApi } from "./talos-api/fake-talos-api";

let dir: string;
let pki: TestPki;
let fake: FakeTalosApi;
let port: number;
let socket: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "fos1-talos-client-"));
  pki = makeTestPki();
  fake = new FakeTalosApi({ unreachable: ["10.0.0.9"], logs: { "ext-fos1-agent": ["one", "two", "three"] } });
  port = await fake.listenApid(pki);
  socket = join(dir, "machine.sock");
  await fake.listenMachined(socket);
});

afterAll(() => {
  fake.close();
  rmSync(dir, { recursive: true, force: true });
});

function apid(opts: { nodes?: string[]; ca?: Buffer; client?: Pem; host?: string; port?: number } = {}): TalosTarget {
  const client = opts.client ?? pki.client;
  return {
    kind: "apid",
    host: opts.host ?? "127.0.0.1",
    port: opts.port ?? port,
    nodes: opts.nodes ?? [],
    tls: { ca: opts.ca ?? pki.ca.cert, cert: client.cert, key: client.key },
    credentialsFrom: 'context "test" of talosconfig',
  };
}

async function using<T>(target: TalosTarget, use: (c: TalosClient) => Promise<T>): Promise<T> {
  const client = new TalosClient(target, { probeTimeoutMs: 10_000 });
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

async function failure(target: TalosTarget, use: (c: TalosClient) => Promise<unknown>): Promise<TalosApiError> {
  try {
    await using(target, use);
  } catch (err) {
    if (err instanceof TalosApiError) return err;
    throw err;
  }
  throw new Error("the call succeeded");
}

describe("through apid with mutual TLS", () => {
  test("Version for two nodes: one reply each, named by apid; an unreachable node is an error of its own", async () => {
    const results = await using(apid({ nodes: ["10.0.0.2", "10.0.0.9"] }), (c) => c.version());
    expect(results.map((r) => r.node)).toEqual(["10.0.0.2", "10.0.0.9"]);
    expect(results[0]!.reply?.version).toEqual(FAKE_VERSION.version);
    expect(results[0]!.reply?.platform).toEqual(FAKE_VERSION.platform);
    expect(results[1]!.error).toContain("no route to host");
    expect(fake.calls.at(-1)).toMatchObject({ rpc: "Version", nodes: ["10.0.0.2", "10.0.0.9"] });
  });

  test("without nodes, no nodes metadata is sent and the reply is named after the endpoint", async () => {
    const results = await using(apid(), (c) => c.version());
    expect(results).toHaveLength(1);
    expect(results[0]!.node).toBe("127.0.0.1");
    expect(fake.calls.at(-1)!.nodes).toEqual([]);
  });

  test("an endpoint by name is checked against the certificate's DNS names", async () => {
    const results = await using(apid({ host: "localhost" }), (c) => c.serviceList());
    expect(results[0]!.reply?.services.map((s) => s.id)).toEqual(["apid", "ext-fos1-agent", "kubelet"]);
  });

  test("ApplyConfiguration in mode TRY: the server receives the bytes, TRY and a 90 s try_mode_timeout", async () => {
    const data = Buffer.from("version: v1alpha1\nmachine:\n  type: controlplane\n");
    const results = await using(apid({ nodes: ["10.0.0.2"] }), (c) => c.applyConfiguration({ data, mode: "TRY", dry_run: false, try_mode_timeout: { seconds: 90, nanos: 0 } }));
    const received = fake.calls.at(-1)!;
    expect(received.rpc).toBe("ApplyConfiguration");
    expect(received.request.mode).toBe("TRY");
    expect(received.request.try_mode_timeout).toEqual({ seconds: "90", nanos: 0 });
    expect(Buffer.from(received.request.data as Uint8Array).equals(data)).toBe(true);
    expect(results[0]).toMatchObject({ node: "10.0.0.2", reply: { mode: "TRY" } });
    expect(results[0]!.reply!.mode_details).toContain("will be automatically reverted back in 1m30s");
  });

  test("a configuration Talos refuses is an error marked as invalid input, with Talos's reason", async () => {
    const err = await failure(apid(), (c) => c.applyConfiguration({ data: Buffer.from("version: v1alpha1\n"), mode: "AUTO", dry_run: false }));
    expect(err.invalidInput).toBe(true);
    expect(err.message).toContain("Talos refused the configuration");
    expect(err.message).toContain("machine instructions are required");
  });

  test("Logs with a tail: the last lines of the service's log", async () => {
    let text = "";
    const failed = await using(apid(), (c) => c.logs({ namespace: "system", id: "ext-fos1-agent", driver: "CONTAINERD", follow: false, tail_lines: 2 }, (_node, bytes) => (text += Buffer.from(bytes).toString())));
    expect(failed).toEqual([]);
    expect(text).toBe("two\nthree\n");
  });

  test("Logs with follow: lines as they come, until the signal ends the stream", async () => {
    const abort = new AbortController();
    const seen: string[] = [];
    const streaming = using(apid({ nodes: ["10.0.0.2"] }), (c) =>
      c.logs({ namespace: "system", id: "ext-fos1-agent", driver: "CONTAINERD", follow: true, tail_lines: 0 }, (node, bytes) => {
        seen.push(`${node} ${Buffer.from(bytes).toString()}`);
        abort.abort();
      }, abort.signal),
    );
    await fake.followed();
    fake.emitLog("ext-fos1-agent", "converged");
    expect(await streaming).toEqual([]);
    expect(seen).toEqual(["10.0.0.2 converged\n"]);
  });
});

describe("certificate problems are said plainly", () => {
  test("a client certificate from another CA: apid refuses it, and the message says which credentials", async () => {
    const err = await failure(apid({ client: pki.otherClient }), (c) => c.version());
    expect(err.message).toContain("apid at 127.0.0.1:");
    expect(err.message).toContain('refused the client certificate (crt, key) of context "test" of talosconfig');
  });

  test("a CA that did not sign apid's certificate: the talosconfig is of another cluster", async () => {
    const err = await failure(apid({ ca: pki.otherCa.cert }), (c) => c.version());
    expect(err.message).toContain("is not signed by the CA (ca) of context \"test\" of talosconfig");
  });

  test("an endpoint the certificate does not name", async () => {
    const other = new FakeTalosApi();
    const otherPort = await other.listenApid(pki, "127.0.0.2");
    try {
      const err = await failure(apid({ host: "127.0.0.2", port: otherPort }), (c) => c.version());
      expect(err.message).toContain("is not valid for 127.0.0.2");
    } finally {
      other.close();
    }
  });

  test("nothing listening: says so, with the port to check", async () => {
    const closed = new FakeTalosApi();
    const closedPort = await closed.listenApid(pki);
    closed.close();
    const err = await failure(apid({ port: closedPort }), (c) => c.version());
    expect(err.message).toContain(`nothing accepts connections at apid at 127.0.0.1:${closedPort}`);
  });

  test("a certificate without the role: PERMISSION_DENIED names the role needed", async () => {
    const readOnly = new FakeTalosApi({ readOnly: true });
    const readOnlyPort = await readOnly.listenApid(pki);
    try {
      const err = await failure(apid({ port: readOnlyPort }), (c) => c.applyConfiguration({ data: Buffer.from("version: v1alpha1\nmachine: {}\n"), mode: "AUTO", dry_run: false }));
      expect(err.invalidInput).toBe(false);
      expect(err.message).toContain("refused ApplyConfiguration: not authorized");
      expect(err.message).toContain("ApplyConfiguration needs os:admin");
    } finally {
      readOnly.close();
    }
  });
});

describe("machined's Unix socket", () => {
  test("ServiceList without TLS or metadata: one reply, from this node", async () => {
    const results = await using({ kind: "socket", path: socket }, (c) => c.serviceList());
    expect(results).toHaveLength(1);
    expect(results[0]!.node).toBe("local");
    expect(results[0]!.reply!.services.find((s) => s.id === "kubelet")?.health).toMatchObject({ healthy: false, last_message: "connection refused" });
  });

  test("a missing socket: the message names it and says how else to reach Talos", async () => {
    const err = await failure({ kind: "socket", path: join(dir, "absent.sock") }, (c) => c.version());
    expect(err.message).toContain(`cannot reach machined at ${join(dir, "absent.sock")}`);
    expect(err.message).toContain("--talosconfig");
  });
});

test("on the wire, each node is its own nodes header field, as apid reads them", async () => {
  // A bare HTTP/2 server with apid's certificate: grpc-js would join repeated fields on receipt.
  const server = createSecureServer({ key: pki.server.key, cert: pki.server.cert, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ["h2"] });
  const nodes = new Promise<string[]>((resolve) =>
    server.on("stream", (stream: ServerHttp2Stream, _headers: IncomingHttpHeaders, _flags: number, raw: string[]) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "12", "grpc-message": "bare server" }, { endStream: true });
      resolve(raw.filter((_, i) => i % 2 === 1 && raw[i - 1] === "nodes"));
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const err = await failure(apid({ port: (server.address() as { port: number }).port, nodes: ["10.0.0.2", "10.0.0.3"] }), (c) => c.version());
  server.close();
  expect(await nodes).toEqual(["10.0.0.2", "10.0.0.3"]);
  expect(err.message).toContain("does not serve machine.MachineService/Version");
});
