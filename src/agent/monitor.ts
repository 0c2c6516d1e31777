// One long-lived `ip -json monitor label link address route rule netconf`: the kernel's
// netlink notifications of the objects fos1 converges (netconf carries the forwarding
// sysctls), as "something changed" signals.
//
// What iproute2 prints. 6.1 (Debian 12, and the lab image) accepts -json but prints monitor
// records as text; later versions may print JSON. Either way each record starts at column 0
// and its continuation lines are indented, and `label` prefixes the record with its object
// ([LINK], [ADDR], [ROUTE], [RULE], [NETCONF]). The agent re-observes the whole host on any record, so
// the parser only sorts records for logging and never has to understand them.
//
// Lost events. On a netlink overrun (ENOBUFS) iproute2 prints an error on stderr and carries
// on, so notifications were dropped: any stderr line is reported as a change of unknown
// object, which makes the agent re-observe. If the process dies it is restarted with backoff,
// and the restart itself is reported, since changes during the gap went unseen.
import type { Subprocess } from "bun";
import type { Logger } from "../base/log";

export type MonitorObject = "link" | "address" | "route" | "rule" | "netconf" | "unknown";

export interface MonitorEvent {
  object: MonitorObject;
  deleted: boolean;
}

const LABELS: Record<string, MonitorObject> = { LINK: "link", ADDR: "address", ROUTE: "route", MROUTE: "route", RULE: "rule", NETCONF: "netconf" };

/** One line of `ip monitor label` output → the record it starts, or null for a continuation line. */
export function parseMonitorLine(line: string): MonitorEvent | null {
  if (!line.trim() || /^\s/.test(line)) return null;
  const m = /^\[([A-Z]+)\]\s*(.*)$/.exec(line);
  const object = m ? (LABELS[m[1]!] ?? "unknown") : "unknown";
  const rest = m ? m[2]! : line;
  return { object, deleted: rest.startsWith("Deleted ") || rest.includes('"deleted":true') };
}

export interface MonitorOptions {
  ip?: string;
  log: Logger;
  onEvent: (e: MonitorEvent) => void;
  /** The monitor was started again after dying: changes in between were not seen. */
  onRestart: () => void;
  /** Delay before restarting a monitor that died, doubled up to maxMs; reset after a long run. */
  backoff?: { initialMs: number; maxMs: number };
}

export class NetlinkMonitor {
  private proc: Subprocess<"ignore", "pipe", "pipe"> | null = null;
  private stopped = false;
  private delayMs: number;
  private restartTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly backoff: { initialMs: number; maxMs: number };

  constructor(private readonly opts: MonitorOptions) {
    this.backoff = opts.backoff ?? { initialMs: 500, maxMs: 30_000 };
    this.delayMs = this.backoff.initialMs;
  }

  /** The running monitor's pid, for operators and tests that need to find it. */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  start(): void {
    this.stopped = false;
    this.spawn(false);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const proc = this.proc;
    this.proc = null;
    if (!proc) return;
    proc.kill("SIGTERM");
    await proc.exited;
  }

  private spawn(restart: boolean): void {
    const argv = [this.opts.ip ?? "ip", "-json", "monitor", "label", "link", "address", "route", "rule", "netconf"];
    const startedAt = performance.now();
    let proc: Subprocess<"ignore", "pipe", "pipe">;
    try {
      proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    } catch (err) {
      const retryInMs = this.nextDelay(startedAt);
      this.opts.log.error("cannot start the netlink monitor", { argv: argv.join(" "), error: (err as Error).message, retryInMs });
      this.scheduleRestart(retryInMs);
      return;
    }
    this.proc = proc;
    const lastWords: string[] = [];
    const out = this.readLines(proc.stdout, (line) => {
      const e = parseMonitorLine(line);
      if (e) this.opts.onEvent(e);
    });
    const err = this.readLines(proc.stderr, (line) => {
      if (!line.trim()) return;
      lastWords.push(line.trim());
      if (lastWords.length > 5) lastWords.shift();
      this.opts.log.warn("netlink monitor: events may have been lost", { message: line.trim() });
      this.opts.onEvent({ object: "unknown", deleted: false });
    });
    if (restart) {
      this.opts.log.info("netlink monitor restarted", { pid: proc.pid });
      this.opts.onRestart();
    } else this.opts.log.debug("netlink monitor started", { pid: proc.pid });
    void Promise.all([proc.exited, out, err]).then(([code]) => {
      if (this.proc !== proc) return; // stopped on purpose
      this.proc = null;
      if (this.stopped) return;
      const retryInMs = this.nextDelay(startedAt);
      this.opts.log.warn("netlink monitor exited; restarting it", { exitCode: code, signal: proc.signalCode ?? undefined, stderr: lastWords.join("; ") || undefined, retryInMs });
      this.scheduleRestart(retryInMs);
    });
  }

  /** The backoff grows while the monitor keeps dying quickly and starts over after a good run. */
  private nextDelay(startedAt: number): number {
    if (performance.now() - startedAt > this.backoff.maxMs) this.delayMs = this.backoff.initialMs;
    return this.delayMs;
  }

  private scheduleRestart(delay: number): void {
    this.delayMs = Math.min(delay * 2, this.backoff.maxMs);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.stopped) this.spawn(true);
    }, delay);
  }

  private async readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
    const decoder = new TextDecoder();
    let buf = "";
    try {
      for await (const chunk of stream) {
        buf += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          onLine(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
      }
    } catch {
      // A broken pipe ends the stream like an exit does; the exit handler restarts.
    }
    if (buf) onLine(buf);
  }
}
