// A FAKE Talos API for tests: an in-process gRPC server speaking machine.MachineService
// (Version, ServiceList, ApplyConfiguration, Logs, Kubeconfig) from fos1's .proto files, field for field
// what Talos sends. On TCP it plays apid: mutual TLS with a client certificate from its CA
// required, and a request forwarded to each node of the "nodes" metadata — one reply message per
// node with metadata.hostname, metadata.error for a node it "cannot reach". On a Unix socket it
// plays machined: no TLS, no forwarding, no metadata. Its ApplyConfiguration answers with
// Talos's wording for each mode. Its Kubeconfig hands out the admin kubeconfig it was given as
// machined does — one common.Data whose bytes are a .tar.gz (made by GNU tar here) holding one
// file named "kubeconfig" — and, given none, answers as a worker node does (UNIMPLEMENTED).
// It is not Talos: no roles (all allowed, or ApplyConfiguration refused with readOnly), no config
// validation beyond "a v1alpha1 document with machine", nothing applied, no real rollback timer.
import { Metadata, Server, ServerCredentials, status, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData } from "@grpc/grpc-js";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { machineService } from "../../../src/talos/schema";
import type { ApplyConfigurationRequest, LogsRequest, ServiceInfo } from "../../../src/talos/types";
import type { TestPki } from "./certs";

export interface ReceivedCall {
  rpc: "Version" | "ServiceList" | "ApplyConfiguration" | "Logs" | "Kubeconfig";
  /** As the server decoded it from the wire. */
  request: Record<string, unknown>;
  /** The "nodes" metadata values, as apid reads them. */
  nodes: string[];
}

export interface FakeOptions {
  services?: ServiceInfo[];
  /** Log lines per service id. */
  logs?: Record<string, string[]>;
  /** Nodes apid "cannot reach": their reply carries metadata.error. */
  unreachable?: string[];
  /** ApplyConfiguration is refused with PERMISSION_DENIED, as for an os:reader certificate. */
  readOnly?: boolean;
  /** The admin kubeconfig Kubeconfig hands out (a control plane); none: a worker's answer. */
  kubeconfig?: string;
}

type Reply = Record<string, unknown>;

export const FAKE_VERSION = {
  version: { tag: "v1.13.9", sha: "4d2bd6a5", built: "", go_version: "go1.24.9", os: "linux", arch: "amd64" },
  platform: { name: "metal", mode: "metal" },
  features: { rbac: true },
};

const at = (iso: string) => ({ seconds: String(Date.parse(iso) / 1000), nanos: 0 });

export const FAKE_SERVICES: ServiceInfo[] = [
  { id: "apid", state: "Running", events: { events: [{ msg: "Health check successful", state: "Running", ts: at("2026-01-02T03:04:05Z") }] }, health: { unknown: false, healthy: true, last_message: "", last_change: at("2026-01-02T03:04:05Z") } },
  { id: "ext-fos1-agent", state: "Running", events: { events: [{ msg: "Started task ext-fos1-agent (PID 2345) for container ext-fos1-agent", state: "Running", ts: at("2026-01-02T03:04:07Z") }] }, health: { unknown: true, healthy: false, last_message: "", last_change: null } },
  { id: "kubelet", state: "Running", events: { events: [] }, health: { unknown: false, healthy: false, last_message: "connection refused", last_change: at("2026-01-02T03:05:00Z") } },
];

export class FakeTalosApi {
  readonly calls: ReceivedCall[] = [];
  private readonly servers: Server[] = [];
  private readonly following = new Set<{ id: string; call: ServerWritableStream<LogsRequest, Reply>; forwards: boolean }>();
  private readonly followWaiters: (() => void)[] = [];
  /** What Kubeconfig hands out now; a test may change it between calls. */
  kubeconfig: string | undefined;

  constructor(private readonly options: FakeOptions = {}) {
    this.kubeconfig = options.kubeconfig;
  }

  /** apid: TCP on `host` (any port) with mutual TLS; returns the port. */
  listenApid(pki: TestPki, host = "127.0.0.1"): Promise<number> {
    const creds = ServerCredentials.createSsl(pki.ca.cert, [{ private_key: pki.server.key, cert_chain: pki.server.cert }], true);
    return this.listen(`${host}:0`, creds, true);
  }

  /** machined: the Unix socket at `path`, no TLS. */
  async listenMachined(path: string): Promise<void> {
    await this.listen(`unix://${path}`, ServerCredentials.createInsecure(), false);
  }

  /** Sends a log line to every following Logs stream of `id`. */
  emitLog(id: string, line: string) {
    for (const f of this.following) if (f.id === id) for (const node of nodesOf(f.call.metadata, f.forwards)) f.call.write(data(node, `${line}\n`));
  }

  /** Resolves once a Logs stream with follow is open. */
  followed(): Promise<void> {
    return this.following.size ? Promise.resolve() : new Promise((resolve) => this.followWaiters.push(resolve));
  }

  close() {
    for (const s of this.servers) s.forceShutdown();
  }

  private async listen(address: string, creds: ServerCredentials, forwards: boolean): Promise<number> {
    const server = new Server();
    server.addService(machineService, {
      Version: (call: ServerUnaryCall<Reply, Reply>, done: sendUnaryData<Reply>) => this.unary("Version", call, done, forwards, () => ({ ...FAKE_VERSION })),
      ServiceList: (call: ServerUnaryCall<Reply, Reply>, done: sendUnaryData<Reply>) =>
        this.unary("ServiceList", call, done, forwards, () => ({ services: this.options.services ?? FAKE_SERVICES })),
      ApplyConfiguration: (call: ServerUnaryCall<Reply, Reply>, done: sendUnaryData<Reply>) => this.apply(call, done, forwards),
      Logs: (call: ServerWritableStream<LogsRequest, Reply>) => this.logs(call, forwards),
      Kubeconfig: (call: ServerWritableStream<Reply, Reply>) => this.kubeconfigCall(call),
    });
    this.servers.push(server);
    return new Promise((resolve, reject) => server.bindAsync(address, creds, (err, port) => (err ? reject(err) : resolve(port))));
  }

  private record(rpc: ReceivedCall["rpc"], request: object, metadata: Metadata) {
    this.calls.push({ rpc, request: request as Record<string, unknown>, nodes: nodesMetadata(metadata) });
  }

  /** apid's one-to-many answer: a message per node asked, or machined's one message. */
  private unary(rpc: ReceivedCall["rpc"], call: ServerUnaryCall<Reply, Reply>, done: sendUnaryData<Reply>, forwards: boolean, answer: () => Reply) {
    this.record(rpc, call.request, call.metadata);
    const messages = nodesOf(call.metadata, forwards).map((node) =>
      node === undefined ? answer() : this.options.unreachable?.includes(node) ? { metadata: unreachable(node) } : { metadata: { hostname: node }, ...answer() },
    );
    done(null, { messages });
  }

  private apply(call: ServerUnaryCall<Reply, Reply>, done: sendUnaryData<Reply>, forwards: boolean) {
    const request = call.request as unknown as ApplyConfigurationRequest;
    if (this.options.readOnly) {
      this.record("ApplyConfiguration", call.request, call.metadata);
      return done({ code: status.PERMISSION_DENIED, details: "not authorized" });
    }
    const v1alpha1 = parseAllDocuments(Buffer.from(request.data).toString())
      .map((d) => d.toJS() as Record<string, unknown> | null)
      .find((d) => d?.version === "v1alpha1");
    if (!v1alpha1?.machine) {
      this.record("ApplyConfiguration", call.request, call.metadata);
      return done({ code: status.INVALID_ARGUMENT, details: "1 error occurred:\n\t* machine instructions are required" });
    }
    this.unary("ApplyConfiguration", call, done, forwards, () => modeAnswer(request));
  }

  // machined's Kubeconfig (apid forwarding is not faked for it: the agent asks its own machined).
  private kubeconfigCall(call: ServerWritableStream<Reply, Reply>) {
    this.record("Kubeconfig", call.request, call.metadata);
    if (this.kubeconfig === undefined) return void call.emit("error", { code: status.UNIMPLEMENTED, details: "kubeconfig is only available on control plane nodes" });
    call.write({ bytes: tarGz("kubeconfig", this.kubeconfig) });
    call.end();
  }

  private logs(call: ServerWritableStream<LogsRequest, Reply>, forwards: boolean) {
    this.record("Logs", call.request, call.metadata);
    const { id, follow, tail_lines } = call.request;
    const lines = this.options.logs?.[id] ?? [];
    const shown = tail_lines >= 0 ? lines.slice(lines.length - Math.min(tail_lines, lines.length)) : lines;
    for (const node of nodesOf(call.metadata, forwards)) {
      if (node !== undefined && this.options.unreachable?.includes(node)) call.write({ metadata: unreachable(node) });
      else if (shown.length) call.write(data(node, shown.map((l) => `${l}\n`).join("")));
    }
    if (!follow) return call.end();
    const entry = { id, call, forwards };
    this.following.add(entry);
    call.on("cancelled", () => this.following.delete(entry));
    for (const resolve of this.followWaiters.splice(0)) resolve();
  }
}

// apid reads each "nodes" header field as one node. grpc-js hands a server repeated fields joined
// with ", ", so the fake splits them back; that the client sends one field per node is checked
// on the wire by a test with a bare HTTP/2 server (talos-api-client.test.ts).
function nodesMetadata(metadata: Metadata): string[] {
  return metadata.get("nodes").flatMap((v) => String(v).split(", "));
}

/** The nodes a request goes to: apid's "nodes" metadata; undefined: answered where it arrived. */
function nodesOf(metadata: Metadata, forwards: boolean): (string | undefined)[] {
  const nodes = forwards ? nodesMetadata(metadata) : [];
  return nodes.length ? nodes : [undefined];
}

function unreachable(node: string) {
  return { hostname: node, error: `rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp ${node}:50000: connect: no route to host"` };
}

function data(node: string | undefined, text: string): Reply {
  return { ...(node === undefined ? {} : { metadata: { hostname: node } }), bytes: Buffer.from(text) };
}

/** A .tar.gz of one file, by GNU tar: another writer than machined's Go one, read by the same reader. */
function tarGz(name: string, content: string): Buffer {
  const dir = mkdtempSync(join(tmpdir(), "fake-talos-kubeconfig-"));
  try {
    writeFileSync(join(dir, name), content, { mode: 0o600 });
    const tar = spawnSync("tar", ["-czf", "-", "-C", dir, name]);
    if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr.toString()}`);
    return tar.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Talos's ApplyConfiguration answers (machined's v1alpha1 server): what each mode did.
function modeAnswer(request: ApplyConfigurationRequest): Reply {
  const mode = request.mode === "AUTO" ? "NO_REBOOT" : request.mode;
  let details = { NO_REBOOT: "Applied configuration without a reboot", TRY: "Applied configuration without a reboot", STAGED: "Staged configuration to be applied after the next reboot", REBOOT: "Applied configuration with a reboot" }[mode as string] ?? "";
  if (request.dry_run) return { mode, mode_details: `Dry run summary:\n${details} (skipped in dry-run).\nConfig diff:\n\nNo changes.`, warnings: [] };
  if (mode === "TRY") details += `\nThe config is applied in 'try' mode and will be automatically reverted back in ${goDuration(Number(request.try_mode_timeout?.seconds ?? 60))}`;
  return { mode, mode_details: details, warnings: [] };
}

/** Go's time.Duration.String() for whole seconds: 1m30s, 2m0s, 45s. */
function goDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h ? `${h}h${m}m${s}s` : m ? `${m}m${s}s` : `${s}s`;
}
