// The long-running consumer for the agent (or controller): follows Hubble's new flows and
// counts them into FlowMetrics by zone. It never gives up: a broken stream is reopened with
// backoff, and even a refusal (wrong server, no permission) is logged and retried at the
// longest backoff, since the operator may fix Hubble while fos1 keeps running.
import type { Logger } from "../base/log";
import { DEFAULT_BACKOFF, watchFlows } from "./client";
import type { BackoffPolicy } from "../base/backoff";
import { sleep } from "../base/sleep";
import type { FlowMetrics } from "./metrics";
import { flowsRequest } from "./request";
import type { HubbleServer } from "./server";
import { summarizeFlow } from "./summary";
import type { ZoneMap } from "./zones";

export interface FlowFeedOptions {
  server: HubbleServer;
  /** The zones of the config in force: read for every flow, so a reloaded config applies at once. */
  zones: () => ZoneMap | undefined;
  metrics: FlowMetrics;
  log: Logger;
  backoff?: BackoffPolicy;
}

export interface FlowFeed {
  /** Closes the stream; resolves when the feed has stopped. */
  stop(): Promise<void>;
}

export function startFlowFeed(opts: FlowFeedOptions): FlowFeed {
  const backoff = opts.backoff ?? DEFAULT_BACKOFF;
  const abort = new AbortController();
  const log = opts.log.with({ hubble: opts.server.target });
  // A router without Cilium yet (booting, or none at all) would say the same every 30 s: a
  // reason is logged when it first appears, and again only after the stream was up.
  let lastReason = "";
  const once = (reason: string, say: () => void) => {
    if (reason !== lastReason) say();
    lastReason = reason;
  };
  const run = async () => {
    while (!abort.signal.aborted) {
      try {
        await watchFlows({
          server: opts.server,
          request: flowsRequest({ follow: true, verdicts: [] }),
          signal: abort.signal,
          backoff,
          onConnected: () => {
            opts.metrics.connected(true);
            lastReason = "";
            log.info("following Hubble's flows");
          },
          onRetry: (err, ms) => {
            opts.metrics.connected(false);
            once(err.message, () => log.warn(`flow stream from Hubble: ${err.message}; retrying with backoff (first ${ms} ms), logged again when the reason changes`));
          },
          onResponse: (r) => {
            if (r.flow) opts.metrics.flow(summarizeFlow(r.flow, opts.zones()));
            else if (r.lost_events) opts.metrics.lost(r.lost_events.source ?? "UNKNOWN_LOST_EVENT_SOURCE", Number(r.lost_events.num_events_lost ?? 0));
          },
        });
      } catch (err) {
        opts.metrics.connected(false);
        once((err as Error).message, () => log.error(`Hubble refused the flow stream: ${(err as Error).message}; retrying every ${backoff.maxMs} ms`));
        await sleep(backoff.maxMs, abort.signal);
      }
    }
  };
  const done = run();
  return {
    stop() {
      abort.abort();
      return done;
    },
  };
}
