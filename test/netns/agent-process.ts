// A running `fos1 agent` in a network namespace, started as the service would be, whose JSON
// log lines are collected as they come; its HTTP endpoints are asked from inside the namespace
// (its 127.0.0.1 is the namespace's own). Every wait is bounded; a failure says what was last seen.
import type { Subprocess } from "bun";
import { fos1Argv } from "../helpers/fos1";
import { waitUntil, type Netns } from "../helpers/netns";

export interface LogLine {
  level: string;
  msg: string;
  [k: string]: unknown;
}

export interface AgentProcessOptions {
  /** Extra environment (NOTIFY_SOCKET). */
  env?: Record<string, string>;
  /** A command that runs the agent's argv after its own (e.g. a shell that mounts something first, then `exec "$@"`). */
  via?: string[];
  /**
   * Enter the namespace with `nsenter --net=` instead of `ip netns exec`, which remounts /sys
   * and so hides /sys/fs/bpf: for an agent that loads XDP filters.
   */
  keepSys?: boolean;
  /** Another long-running fos1 command in the agent's place (["ids", "run"]); default ["agent"]. */
  command?: string[];
}

export class AgentProcess {
  readonly lines: LogLine[] = [];
  readonly raw: string[] = [];
  private readonly proc: Subprocess<"ignore", "ignore", "pipe">;
  private readonly reading: Promise<void>;
  private readonly enter: (cmd: string[]) => string[];

  constructor(
    private readonly ns: Pick<Netns, "name" | "argv">,
    args: string[],
    opts: AgentProcessOptions = {},
  ) {
    this.enter = opts.keepSys ? (cmd) => ["nsenter", `--net=/run/netns/${ns.name}`, ...cmd] : (cmd) => ns.argv(cmd);
    this.proc = Bun.spawn(this.enter([...(opts.via ?? []), ...fos1Argv(), ...(opts.command ?? ["agent"]), ...args]), {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
      env: { ...process.env, FOS1_LOG_LEVEL: "debug", FOS1_LOG_FORMAT: "json", ...opts.env },
    });
    this.reading = this.read();
  }

  /** The process's pid (nsenter and ip netns exec both exec the command, so it is fos1's). */
  get pid(): number {
    return this.proc.pid;
  }

  get exitCode(): number | null {
    return this.proc.exitCode;
  }

  has(pred: (l: LogLine) => boolean): boolean {
    return this.lines.some(pred);
  }

  async waitForLog(what: string, pred: (l: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
    await waitUntil(`log line: ${what}`, () => this.has(pred) || this.exitCode !== null, timeoutMs, () => this.raw.slice(-15));
    const line = this.lines.find(pred);
    if (!line) throw new Error(`the agent exited (${this.exitCode}) before logging ${what}:\n${this.raw.slice(-15).join("\n")}`);
    return line;
  }

  converges(): LogLine[] {
    return this.lines.filter((l) => l.msg === "converged" || l.msg === "did not converge");
  }

  /** Waits until no converge has been logged for quietMs: the agent has settled. */
  async settled(quietMs = 1500, timeoutMs = 10_000): Promise<void> {
    let count = -1, since = performance.now();
    await waitUntil(`no converge for ${quietMs} ms`, () => {
      const n = this.converges().length;
      if (n !== count) [count, since] = [n, performance.now()];
      return performance.now() - since >= quietMs;
    }, timeoutMs, () => this.converges().slice(-5));
  }

  /**
   * GET url from inside the agent's namespace (Bun's fetch in a process started there):
   * the status and the body, or status 0 and the error when nothing answers.
   */
  async get(url: string): Promise<{ status: number; body: string }> {
    const script = "try { const r = await fetch(process.argv.at(-1)); console.log(JSON.stringify({ status: r.status, body: await r.text() })) } catch (e) { console.log(JSON.stringify({ status: 0, body: String(e) })) }";
    const proc = Bun.spawn(this.enter([process.execPath, "-e", script, url]), { stdout: "pipe", stderr: "pipe" });
    const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    if (!out.trim()) throw new Error(`fetching ${url} in ${this.ns.name} printed nothing: ${err}`);
    return JSON.parse(out) as { status: number; body: string };
  }

  kill(signal: NodeJS.Signals): void {
    if (this.exitCode === null) this.proc.kill(signal);
  }

  /** Sends signal and waits (bounded) for the exit code. */
  async stop(signal: NodeJS.Signals, timeoutMs = 10_000): Promise<number> {
    this.kill(signal);
    return this.exited(timeoutMs, `of ${signal}`);
  }

  /** Waits (bounded) for the agent to exit by itself; its exit code. */
  async exited(timeoutMs = 10_000, after = "of starting"): Promise<number> {
    const code = await Promise.race([this.proc.exited, Bun.sleep(timeoutMs).then(() => null)]);
    if (code === null) throw new Error(`the agent did not exit within ${timeoutMs} ms ${after}`);
    await this.reading;
    return code;
  }

  private async read(): Promise<void> {
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of this.proc.stderr) {
      buf += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.raw.push(line);
        if (line.startsWith("{")) this.lines.push(JSON.parse(line) as LogLine);
      }
    }
  }
}
