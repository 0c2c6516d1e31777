// The IDS reader: EVE lines → alerts → the block policy → batched writes to the sinks (XDP, the
// cluster). Reading never waits for a write: lines are handled as they come (the policy is
// synchronous and bounded), and a ticker writes at most one batch every flushIntervalMs, so
// the rate of writes is bounded however fast alerts come. A line that is not an EVE record is
// counted and skipped; nothing in a line can end the reader.
//
// The allowlist is read again every refreshAllowlist.everyMs while the reader runs (addresses,
// leases, routes and nodes change under it); setAllowlist pushes one at once.
//
// `fos1 ids run` runs this in the foreground. fos1 agent could run it beside its converge loop:
// startIds(...) with the agent's registry, its state dir and the allowlist of the config in
// force (setAllowlist on every new config), stopped with the agent.
import type { Logger } from "../base/log";
import { sleep } from "../base/sleep";
import type { Allowlist } from "./allowlist";
import { parseEveLine, type MalformedReason } from "./eve";
import type { IdsMetrics } from "./metrics";
import type { Block, BlockPolicy } from "./policy";
import type { BlockSink } from "./sink";
import type { EveHandler, EveSource } from "./source";

export const DEFAULT_FLUSH_INTERVAL_MS = 250;
export const DEFAULT_BATCH_SIZE = 256;
/** Blocks logged one by one per batch; the rest of a batch is a count. */
const LOGGED_PER_BATCH = 20;

export interface IdsRunnerOptions {
  source: EveSource;
  policy: BlockPolicy;
  sinks: BlockSink[];
  metrics: IdsMetrics;
  log: Logger;
  flushIntervalMs?: number;
  batchSize?: number;
  now?: () => number;
  /** Reads the allowlist again while the reader runs: the host's addresses, leases, routes and the cluster's nodes change. */
  refreshAllowlist?: { read: () => Promise<Allowlist>; everyMs: number };
}

export interface IdsHandle {
  setAllowlist(allowlist: Allowlist): void;
  /** Ends reading, writes what is waiting (one last batch) and resolves. */
  stop(): Promise<void>;
  /** Resolves when the reader ends; rejects when the source cannot be set up. */
  done: Promise<void>;
}

export function startIds(options: IdsRunnerOptions): IdsHandle {
  const runner = new IdsRunner(options);
  const abort = new AbortController();
  const done = runner.run(abort.signal);
  return {
    setAllowlist: (a) => runner.setAllowlist(a),
    stop: async () => {
      abort.abort();
      await done.catch(() => {});
    },
    done,
  };
}

export class IdsRunner {
  private readonly now: () => number;
  private readonly malformedSeen = new Set<MalformedReason>();
  private readonly sinkErrors = new Map<string, string>();
  private flushing: Promise<void> | null = null;

  constructor(private readonly o: IdsRunnerOptions) {
    this.now = o.now ?? Date.now;
  }

  async run(signal: AbortSignal): Promise<void> {
    this.o.metrics.allowlist(this.o.policy.currentAllowlist.counts());
    await this.rememberExisting();
    const handler: EveHandler = {
      line: (text) => this.line(text),
      overlong: () => this.malformed("overlong", "a line longer than the bound"),
      up: (open, detail) => {
        this.o.metrics.sourceUp(open);
        this.o.log.info(detail, { eve: this.o.source.address });
      },
    };
    // The ticker ends with the source, also when the source fails.
    const ended = new AbortController();
    const end = () => ended.abort();
    signal.addEventListener("abort", end, { once: true });
    const ticker = (async () => {
      while (!ended.signal.aborted) {
        await this.flush();
        await sleep(this.o.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS, ended.signal);
      }
    })();
    const refresher = this.o.refreshAllowlist && this.refresh(this.o.refreshAllowlist, ended.signal);
    try {
      await this.o.source.run(handler, signal);
    } finally {
      signal.removeEventListener("abort", end);
      end();
      await Promise.all([ticker, refresher]);
      await this.flush();
    }
  }

  setAllowlist(allowlist: Allowlist): void {
    this.o.policy.setAllowlist(allowlist);
    this.o.metrics.allowlist(allowlist.counts());
  }

  /** One read at a time, every everyMs, until the reader ends; a failed read keeps the allowlist in force. */
  private async refresh(r: NonNullable<IdsRunnerOptions["refreshAllowlist"]>, signal: AbortSignal): Promise<void> {
    for (;;) {
      await sleep(r.everyMs, signal);
      if (signal.aborted) return;
      try {
        this.setAllowlist(await r.read());
      } catch (err) {
        this.o.log.warn("cannot read the allowlist again; the one in force stays", { error: (err as Error).message });
      }
    }
  }

  /** Handles one EVE line. */
  line(text: string): void {
    const m = this.o.metrics;
    m.line();
    const record = parseEveLine(text);
    if (record.kind === "malformed") return this.malformed(record.reason, record.detail);
    if (record.kind !== "alert") return;
    const alert = record.alert;
    m.alert(alert.severity);
    const d = this.o.policy.consider(alert, this.now());
    if (d.verdict === "queued") {
      if (d.evicted !== undefined) m.evicted();
    } else m.skipped(d.verdict);
    if (d.verdict === "allowlisted") {
      m.allowlisted(d.class);
      this.o.log.debug("alert from an allowlisted source: not blocked", { source: d.prefix, class: d.class, why: d.why, sid: alert.signatureId });
    }
  }

  /** Expires, takes evicted blocks off, writes one batch of waiting blocks, lets the sinks do their own upkeep. One at a time. */
  flush(): Promise<void> {
    this.flushing ??= this.flushOnce().finally(() => (this.flushing = null));
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    const now = this.now();
    const p = this.o.policy;
    p.expire(now);
    // Before the batch: a source evicted and alerted on again since is taken off, then blocked again.
    const evicted = p.takeEvictions();
    if (evicted.length) await this.evict(evicted, now);
    const batch = p.takeBatch(this.o.batchSize ?? DEFAULT_BATCH_SIZE, now);
    if (batch.length) await this.write(batch, now);
    for (const sink of this.o.sinks) {
      try {
        await sink.tick(now);
      } catch (err) {
        this.sinkError(sink.name, (err as Error).message);
      }
    }
    this.o.metrics.blocks(p.activeCount, p.pendingCount, p.rateAggregates);
  }

  private async evict(prefixes: string[], now: number): Promise<void> {
    for (const sink of this.o.sinks) {
      try {
        await sink.remove(prefixes, now);
      } catch (err) {
        // Still blocked there until its TTL runs out (the agent expires XDP blocks): room is made in the policy anyway.
        this.sinkError(sink.name, `cannot take evicted blocks off: ${(err as Error).message}`, prefixes.length);
      }
    }
    this.o.log.info("evicted the oldest IDS blocks to make room for new ones (--max-blocks)", { count: prefixes.length, first: prefixes[0] });
  }

  private async write(batch: Block[], now: number): Promise<void> {
    const failed = new Set<string>();
    for (const sink of this.o.sinks) {
      let result;
      try {
        result = await sink.add(batch, now);
      } catch (err) {
        result = { written: [], failed: batch.map((b) => ({ prefix: b.prefix, error: (err as Error).message })) };
      }
      this.o.metrics.blocked(sink.name, result.written.length);
      this.o.metrics.blockFailed(sink.name, result.failed.length);
      for (const f of result.failed) failed.add(f.prefix);
      if (result.failed.length) this.sinkError(sink.name, result.failed[0]!.error, result.failed.length);
      else this.sinkErrors.delete(sink.name);
    }
    // Written nowhere, or not everywhere: the source's next alert tries again (a sink that has it already takes it again).
    for (const prefix of failed) this.o.policy.forget(prefix);
    const done = batch.filter((b) => !failed.has(b.prefix));
    for (const b of done.slice(0, LOGGED_PER_BATCH))
      this.o.log.info("blocked a source Suricata alerted on", { prefix: b.prefix, until: new Date(b.expiresAt).toISOString(), sid: b.source, signature: b.signature, severity: b.severity });
    if (done.length > LOGGED_PER_BATCH) this.o.log.info("blocked more sources in the same batch", { count: done.length - LOGGED_PER_BATCH });
  }

  private malformed(reason: MalformedReason, detail: string): void {
    this.o.metrics.malformed(reason);
    // The first of each kind is worth a line; the rest are in the counter.
    if (this.malformedSeen.has(reason)) return;
    this.malformedSeen.add(reason);
    this.o.log.warn("skipped an EVE line that is not a record fos1 can read (further ones are only counted)", { eve: this.o.source.address, reason, detail: detail.slice(0, 200) });
  }

  private sinkError(sink: string, error: string, count = 1): void {
    if (this.sinkErrors.get(sink) === error) return;
    this.sinkErrors.set(sink, error);
    this.o.log.warn("cannot write blocks; the sources are blocked at their next alert if it can then", { sink, error, count });
  }

  private async rememberExisting(): Promise<void> {
    const now = this.now();
    for (const sink of this.o.sinks) {
      try {
        for (const e of await sink.existing(now)) this.o.policy.remember(e.prefix, e.expiresAt, e.evictable);
      } catch (err) {
        this.o.log.warn("cannot read the blocks a sink already holds; sources blocked there may be blocked again", { sink: sink.name, error: (err as Error).message });
      }
    }
  }
}
