// The GetFlows stream of Hubble's observer. With follow, a stream that breaks (Hubble or Relay
// restarted, the socket gone, an idle connection dropped) is opened again with exponential
// backoff, resuming at the last flow received so nothing is printed or counted twice.
import { credentials, status, type ChannelCredentials, type ServiceError } from "@grpc/grpc-js";
import { ObserverClient } from "./schema";
import type { HubbleServer } from "./server";
import { nanosOf } from "./request";
import { sleep } from "../base/sleep";
import { Backoff, type BackoffPolicy } from "../base/backoff";
import type { Flow, GetFlowsRequest, GetFlowsResponse, Timestamp } from "./types";

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000 };

export interface WatchOptions {
  server: HubbleServer;
  request: GetFlowsRequest;
  onResponse(response: GetFlowsResponse): void;
  /** The stream broke (or could not be opened) and is tried again after `retryInMs`. */
  onRetry?(error: Error, retryInMs: number): void;
  /** Hubble answered a (re)opened stream. */
  onConnected?(): void;
  backoff?: BackoffPolicy;
  signal?: AbortSignal;
}

/** The flow stream failed for good: Hubble unreachable without follow, or it refused the request. */
export class HubbleError extends Error {
  constructor(
    message: string,
    readonly code: status,
  ) {
    super(message);
  }
}

// Answers that a retry cannot change: wrong server, bad request, no permission.
const PERMANENT = new Set([status.UNIMPLEMENTED, status.INVALID_ARGUMENT, status.UNAUTHENTICATED, status.PERMISSION_DENIED, status.FAILED_PRECONDITION]);

/**
 * Streams GetFlows responses to onResponse. Without follow it resolves when Hubble has sent what
 * was asked and throws HubbleError when the stream fails; with follow it runs until the signal
 * aborts, reopening broken streams, and throws only on a permanent refusal.
 */
export async function watchFlows(opts: WatchOptions): Promise<void> {
  const backoff = new Backoff(opts.backoff ?? DEFAULT_BACKOFF);
  const resume = new ResumePoint();
  for (;;) {
    const request = resume.request(opts.request);
    let answered = false;
    const outcome = await openStream(opts.server, request, opts.signal, () => opts.onConnected?.(), (response) => {
      // Hubble delivers again: the next break starts the backoff from the beginning.
      if (!answered) {
        answered = true;
        backoff.reset();
      }
      if (response.flow && !resume.accept(response.flow, response.time)) return;
      opts.onResponse(response);
    });
    if (opts.signal?.aborted) return;
    if (outcome === "end" && !opts.request.follow) return;
    const error = outcome === "end" ? new Error("Hubble closed the stream") : describe(opts.server, outcome);
    if (!opts.request.follow || (outcome !== "end" && PERMANENT.has(outcome.code))) throw error;
    const wait = backoff.next();
    opts.onRetry?.(error, wait);
    if (!(await sleep(wait, opts.signal))) return;
  }
}

type StreamOutcome = "end" | { code: status; details: string };

async function openStream(
  server: HubbleServer,
  request: GetFlowsRequest,
  signal: AbortSignal | undefined,
  onConnected: () => void,
  onResponse: (r: GetFlowsResponse) => void,
): Promise<StreamOutcome> {
  // A fresh channel per attempt: the backoff above decides when to dial, not grpc-js's own.
  // The call does not wait for a connection: an absent socket fails at once, saying why.
  const client = new ObserverClient(server.target, channelCredentials(server), channelOptions(server));
  const call = client.GetFlows(request);
  const abort = () => call.cancel();
  signal?.addEventListener("abort", abort);
  let connected = false;
  const answered = () => {
    if (!connected) {
      connected = true;
      onConnected();
    }
  };
  call.on("metadata", answered);
  try {
    // The async iterator hands over every message received before it reports the error.
    for await (const response of call as AsyncIterable<GetFlowsResponse>) {
      answered();
      onResponse(response);
    }
    return "end";
  } catch (err) {
    const e = err as ServiceError;
    return { code: e.code ?? status.UNKNOWN, details: e.details || e.message };
  } finally {
    signal?.removeEventListener("abort", abort);
    client.close();
  }
}

function channelCredentials(server: HubbleServer): ChannelCredentials {
  if (!server.tls) return credentials.createInsecure();
  return credentials.createSsl(server.tls.ca ?? null, server.tls.key ?? null, server.tls.cert ?? null);
}

function channelOptions(server: HubbleServer): Record<string, string> {
  return server.tls?.serverName ? { "grpc.ssl_target_name_override": server.tls.serverName, "grpc.default_authority": server.tls.serverName } : {};
}

function describe(server: HubbleServer, err: { code: status; details: string }): HubbleError {
  const where = `Hubble at ${server.target}`;
  const detail = err.details;
  const message =
    err.code === status.UNAVAILABLE ? `${where} is unavailable: ${detail}`
    : err.code === status.UNIMPLEMENTED ? `${where} does not serve observer.Observer/GetFlows (is it Hubble?): ${detail}`
    : `${where} failed the flow stream (${status[err.code] ?? err.code}): ${detail}`;
  return new HubbleError(message, err.code);
}

/**
 * The newest flow received, so a reopened stream asks Hubble for flows `since` then and drops
 * the ones it already delivered (same timestamp and identity) instead of repeating them.
 */
class ResumePoint {
  private at?: Timestamp;
  private atNanos = 0n;
  private seenAtNewest = new Set<string>();
  private replaying = false;

  request(original: GetFlowsRequest): GetFlowsRequest {
    if (!this.at) return original;
    this.replaying = true;
    const { number: _count, ...rest } = original;
    return { ...rest, since: this.at };
  }

  accept(flow: Flow, responseTime: Timestamp | undefined): boolean {
    const time = flow.time ?? responseTime;
    const nanos = nanosOf(time);
    const key = flow.uuid || JSON.stringify(flow);
    if (this.replaying && (nanos < this.atNanos || (nanos === this.atNanos && this.seenAtNewest.has(key)))) return false;
    if (time && nanos > this.atNanos) {
      this.at = time;
      this.atNanos = nanos;
      this.seenAtNewest = new Set();
      this.replaying = false;
    }
    if (nanos === this.atNanos) this.seenAtNewest.add(key);
    return true;
  }
}
