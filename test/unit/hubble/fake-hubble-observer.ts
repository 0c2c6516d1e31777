// A FAKE Hubble observer for tests: an in-process gRPC server speaking observer.Observer/GetFlows
// (fos1's .proto files, the same bytes on the wire as Cilium's Hubble) that replays recorded
// flows (flows.fixture.jsonl, in `hubble observe -o json` form). It implements what fos1 asks of
// GetFlows — number (the last N), since, follow, and whitelist verdict filters — and refuses any
// other filter, so a test notices when the client starts relying on something this fake does
// not do. It is not Hubble: no ring buffer limits, no node merging, no field masks.
import { Metadata, Server, ServerCredentials, status, type ServerWritableStream } from "@grpc/grpc-js";
import * as protobuf from "protobufjs";
import { hubbleRoot, observerService } from "../../../src/flows/schema";
import { nanosOf } from "../../../src/flows/request";
import type { GetFlowsRequest, GetFlowsResponse, Timestamp } from "../../../src/flows/types";

type Call = ServerWritableStream<GetFlowsRequest & { blacklist?: unknown[] }, GetFlowsResponse>;

export const FIXTURE = new URL("./flows.fixture.jsonl", import.meta.url).pathname;

/** Reads `hubble observe -o json` lines (protojson with proto field names) as GetFlowsResponses. */
export async function readRecordedFlows(path = FIXTURE): Promise<GetFlowsResponse[]> {
  const text = await Bun.file(path).text();
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => fromHubbleJson(JSON.parse(l)));
}

const GetFlowsResponseType = hubbleRoot.lookupType("observer.GetFlowsResponse");

// protojson writes Timestamps as RFC 3339 strings and BoolValue as a bare bool; protobufjs's
// fromObject wants the message shape. Everything else (enum names, uint64 strings) it takes as is.
function fromHubbleJson(json: Record<string, unknown>): GetFlowsResponse {
  const convert = (v: unknown, key: string): unknown => {
    if (["time", "since", "until", "first", "last"].includes(key) && typeof v === "string") return timestampFromRfc3339(v);
    if (key === "is_reply" && typeof v === "boolean") return { value: v };
    if (Array.isArray(v)) return v.map((x) => convert(x, ""));
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, convert(x, k)]));
    return v;
  };
  const object = convert(json, "") as Record<string, unknown>;
  checkFields(GetFlowsResponseType, object, "GetFlowsResponse");
  return object as GetFlowsResponse;
}

// protobufjs's fromObject skips names it does not know; a recorded flow must not have any.
function checkFields(type: protobuf.Type, object: Record<string, unknown>, path: string) {
  for (const [name, value] of Object.entries(object)) {
    const field = type.fields[name];
    if (!field) throw new Error(`recorded flow: ${path}.${name} is not a field of ${type.fullName}`);
    const resolved = field.resolve().resolvedType;
    for (const v of Array.isArray(value) ? value : [value]) {
      if (resolved instanceof protobuf.Type) checkFields(resolved, v as Record<string, unknown>, `${path}.${name}`);
      else if (resolved instanceof protobuf.Enum && !(String(v) in resolved.values)) throw new Error(`recorded flow: ${path}.${name}: ${v} is not a ${resolved.fullName}`);
    }
  }
}

export function timestampFromRfc3339(text: string): Timestamp {
  const m = /^(.*?)(?:\.(\d{1,9}))?Z$/.exec(text);
  if (!m) throw new Error(`not an RFC 3339 UTC time: ${text}`);
  const seconds = Date.parse(`${m[1]}Z`) / 1000;
  return { seconds: String(seconds), nanos: Number((m[2] ?? "").padEnd(9, "0")) };
}

const IMPLEMENTED_FILTER_FIELDS = new Set(["verdict"]);

export class FakeHubbleObserver {
  /** Every GetFlows request received, in order. */
  readonly requests: GetFlowsRequest[] = [];
  private readonly server = new Server();
  private readonly following = new Set<Call>();
  private readonly waiters: { count: number; resolve: () => void }[] = [];

  constructor(private readonly recorded: GetFlowsResponse[]) {
    this.server.addService(observerService, { GetFlows: (call: Call) => this.getFlows(call) });
  }

  /** Listens on unix:///path or 127.0.0.1:0 (any port); returns the address clients dial. */
  async listen(address: string): Promise<string> {
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    return address.startsWith("unix:") ? address : `127.0.0.1:${port}`;
  }

  /** Resolves once `count` GetFlows requests have arrived in total. */
  requestsReceived(count: number): Promise<void> {
    if (this.requests.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  /** A new flow happens: recorded, and sent to every following stream whose filters match. */
  emit(response: GetFlowsResponse) {
    this.recorded.push(response);
    for (const call of this.following) if (matches(call.request, response)) call.write(response);
  }

  /** Ends every open stream with UNAVAILABLE, as Hubble does when its agent restarts. */
  breakStreams() {
    for (const call of this.following) call.emit("error", { code: status.UNAVAILABLE, details: "fake Hubble: stream broken on purpose" });
    this.following.clear();
  }

  get openStreams(): number {
    return this.following.size;
  }

  close() {
    this.server.forceShutdown();
  }

  private getFlows(call: Call) {
    const request = call.request;
    this.requests.push(request);
    for (const w of this.waiters.filter((w) => this.requests.length >= w.count)) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve();
    }
    const unsupported = unsupportedFilter(request);
    if (unsupported) return call.emit("error", { code: status.INVALID_ARGUMENT, details: `fake Hubble: ${unsupported} is not implemented by this fake` });
    // As Hubble's ring reader: follow with neither number nor since starts at the newest flow;
    // otherwise the last `number` flows not older than `since`.
    const number = Number(request.number ?? 0);
    let replay = request.follow && number === 0 && !request.since ? [] : this.recorded.filter((r) => matches(request, r));
    if (request.since) replay = replay.filter((r) => nanosOf(r.time) >= nanosOf(request.since));
    if (number > 0) replay = replay.slice(-number);
    call.sendMetadata(new Metadata());
    for (const r of replay) call.write(r);
    if (request.follow) {
      this.following.add(call);
      call.on("cancelled", () => this.following.delete(call));
    } else call.end();
  }
}

function unsupportedFilter(request: GetFlowsRequest & { blacklist?: unknown[] }): string | undefined {
  if (request.blacklist?.length) return "a blacklist";
  for (const filter of request.whitelist ?? [])
    for (const [field, value] of Object.entries(filter))
      if (!IMPLEMENTED_FILTER_FIELDS.has(field) && !(Array.isArray(value) && value.length === 0)) return `the filter field ${field}`;
  return undefined;
}

/** Hubble's semantics: filters in the whitelist are alternatives; a flow needs to match one. */
function matches(request: GetFlowsRequest, response: GetFlowsResponse): boolean {
  const filters = request.whitelist ?? [];
  if (!response.flow || !filters.length) return true;
  return filters.some((f) => !f.verdict?.length || f.verdict.includes(response.flow!.verdict ?? "VERDICT_UNKNOWN"));
}
