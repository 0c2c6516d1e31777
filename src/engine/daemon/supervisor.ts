// One supervised daemon of Debian's shipped beside fos1 (dhcpcd for the uplinks, dnsmasq for the
// LANs): started in its own session, its output relayed to fos1's log, restarted with backoff
// when it dies, reloaded by a signal, stopped with SIGTERM (killed if it does not stop in time),
// and found again when a crashed fos1 left it running (the pid fos1 recorded, checked against
// /proc). Every change goes through one queue, so two never overlap. What the daemon is told
// (its config) is its driver's business: dhcp/supervisor.ts, lan/supervisor.ts.
import type { Subprocess } from "bun";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { OperationError } from "../../base/errors";
import type { Logger } from "../../base/log";
import { writeFileAtomic } from "../../base/atomic-file";

export interface DaemonSpec {
  /** The program's name, as /proc/PID/comm shows it: "dhcpcd", "dnsmasq". */
  program: string;
  /** What it is for people: "the DHCP client". */
  purpose: string;
  /** Its path; default: found on PATH, then in /usr/sbin. */
  binary?: string;
  /** The Debian package that ships it, named when it is missing. */
  debianPackage: string;
  /** Its arguments. */
  args: string[];
  /**
   * A program that execs it with fewer privileges (setpriv and its arguments, ending in "--"):
   * the daemon's pid and /proc/PID/comm are its own once that program has exec'd it.
   */
  launcher?: string[];
  /** Where fos1 records the pid it started (to find what a crashed fos1 left). */
  pidRecord: string;
  /** A line it says once it runs; without one it counts as running once it did not exit within startTimeoutMs. */
  startedLine?: RegExp;
  /** Refuses to start, throwing OperationError, when something on the host would make it fail (another instance). */
  beforeStart?: () => void;
  /** Its output lines into fos1's log (default: info, with the program and pid). */
  relay?: (line: string, pid: number) => void;
  log: Logger;
  /** Delay before the first restart after it dies, doubled each time up to maxMs. */
  backoff?: { initialMs: number; maxMs: number };
  /** How long it may take to stop on SIGTERM before it is killed. */
  stopTimeoutMs?: number;
  /** How long to wait for its start line (or, without one, how long it must stay up). */
  startTimeoutMs?: number;
}

interface Child {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  startedAt: number;
  /** Its last lines, for the message when it dies. */
  lastWords: string[];
  output: Promise<unknown>;
}

export class Daemon {
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly stopTimeoutMs: number;
  private readonly startTimeoutMs: number;
  private child?: Child;
  private wanted = false;
  private restartTimer?: ReturnType<typeof setTimeout>;
  private failures = 0;
  private orphanChecked = false;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly spec: DaemonSpec) {
    this.backoff = spec.backoff ?? { initialMs: 1000, maxMs: 60_000 };
    this.stopTimeoutMs = spec.stopTimeoutMs ?? 10_000;
    this.startTimeoutMs = spec.startTimeoutMs ?? 10_000;
  }

  /** The pid of the running daemon, if any. */
  get pid(): number | undefined {
    return this.child?.proc.pid;
  }

  /** It runs, or is about to be restarted after dying. */
  get supervised(): boolean {
    return this.wanted;
  }

  /** Runs work after every earlier change, alone. */
  serial<T>(work: () => Promise<T>): Promise<T> {
    const result = this.queue.then(work);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /**
   * (Re)starts it: stops the running one (reason says why), then starts a new one. If it cannot
   * start this throws OperationError and it is retried with backoff. Call inside serial().
   */
  async restart(reason: string): Promise<void> {
    this.wanted = true;
    this.cancelRestart();
    this.failures = 0;
    await this.terminate(reason);
    await this.start();
  }

  /**
   * Stops it (SIGTERM: it undoes what it set up) and stops supervising. Call inside serial().
   * False when it did not stop in time and was killed: then it undid nothing.
   */
  async stop(reason: string): Promise<boolean> {
    this.wanted = false;
    this.cancelRestart();
    return this.terminate(reason);
  }

  /**
   * Stops supervising and kills it the way a crash would, so it cannot undo what it set up (the
   * DHCP client's addresses stay until their leases run out). Call inside serial().
   */
  async abandon(): Promise<void> {
    this.wanted = false;
    this.cancelRestart();
    const child = this.child;
    this.child = undefined;
    if (!child) return;
    removeGroup(child.proc.pid, this.spec.program);
    await child.proc.exited;
    rmSync(this.spec.pidRecord, { force: true });
  }

  /** Sends it a signal (SIGHUP: read its files again); false when it does not run. */
  signal(sig: NodeJS.Signals): boolean {
    if (!this.child) return false;
    this.child.proc.kill(sig);
    return true;
  }

  private binary(): string {
    const { program, binary } = this.spec;
    if (binary) {
      if (!existsSync(binary)) throw new OperationError(`cannot run ${this.spec.purpose}: ${binary} does not exist`);
      return binary;
    }
    const found = Bun.which(program) ?? (existsSync(`/usr/sbin/${program}`) ? `/usr/sbin/${program}` : null);
    if (!found)
      throw new OperationError(`cannot run ${this.spec.purpose}: ${program} is not installed (not on PATH, not /usr/sbin/${program}); fos1's image ships it, on Debian it is the ${this.spec.debianPackage} package`);
    return found;
  }

  private async start(): Promise<void> {
    const { program, log } = this.spec;
    let proc: Child["proc"];
    try {
      const bin = this.binary();
      if (!this.orphanChecked) {
        await this.stopOrphan();
        this.orphanChecked = true;
      }
      this.spec.beforeStart?.();
      proc = Bun.spawn([...(this.spec.launcher ?? []), bin, ...this.spec.args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", detached: true });
    } catch (err) {
      // Nothing was started, so no exit will schedule the retry: schedule it here.
      this.scheduleRestart();
      if (err instanceof OperationError) throw err;
      throw new OperationError(`cannot start ${this.spec.purpose}: ${(err as Error).message}`);
    }
    mkdirSync(dirname(this.spec.pidRecord), { recursive: true });
    writeFileAtomic(this.spec.pidRecord, `${proc.pid}\n`);
    let announced!: () => void;
    const started = new Promise<void>((resolve) => (announced = resolve));
    const lastWords: string[] = [];
    const relay = this.spec.relay ?? ((line: string, pid: number) => log.info(line, { program, pid }));
    const onLine = (line: string) => {
      lastWords.push(line);
      if (lastWords.length > 8) lastWords.shift();
      if (this.spec.startedLine?.test(line)) announced();
      relay(line, proc.pid);
    };
    const child: Child = { proc, startedAt: performance.now(), lastWords, output: Promise.all([eachLine(proc.stdout, onLine), eachLine(proc.stderr, onLine)]) };
    this.child = child;
    log.info(`${program} started`, { pid: proc.pid });
    void proc.exited.then(() => this.exited(child));

    const outcome = await within(Promise.race([started.then(() => "started" as const), proc.exited.then(() => "exited" as const)]), this.startTimeoutMs, "waited" as const);
    if (outcome === "exited") {
      await within(child.output, 500, null);
      throw new OperationError(`cannot start ${this.spec.purpose}: ${program} ${exitText(proc)}: ${lastWords.join("; ") || "(it said nothing)"}`);
    }
    if (outcome === "waited" && this.spec.startedLine) log.warn(`${program} has not reported its start yet`, { pid: proc.pid, waitedMs: this.startTimeoutMs });
  }

  private exited(child: Child) {
    removeGroup(child.proc.pid, this.spec.program);
    if (this.child !== child) return; // fos1 stopped it on purpose
    this.child = undefined;
    if (!this.wanted) return;
    if (performance.now() - child.startedAt > this.backoff.maxMs) this.failures = 0;
    this.spec.log.warn(`${this.spec.program} exited unexpectedly; restarting it`, { exit: exitText(child.proc), lastWords: child.lastWords });
    this.scheduleRestart();
  }

  private scheduleRestart() {
    if (this.restartTimer || !this.wanted) return;
    const delay = Math.min(this.backoff.initialMs * 2 ** this.failures, this.backoff.maxMs);
    this.failures++;
    this.spec.log.info(`${this.spec.program} restarts soon`, { inMs: delay, attempt: this.failures });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.serial(async () => {
        if (this.wanted && !this.child) await this.start();
      }).catch((err: unknown) => this.spec.log.error(`cannot restart ${this.spec.program}`, { error: err }));
    }, delay);
  }

  private cancelRestart() {
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
  }

  private async terminate(reason: string): Promise<boolean> {
    const child = this.child;
    this.child = undefined;
    if (!child) return true;
    const { program, log } = this.spec;
    log.info(`stopping ${program}`, { pid: child.proc.pid, reason });
    child.proc.kill("SIGTERM");
    const exited = await within(child.proc.exited.then(() => true), this.stopTimeoutMs, false);
    if (!exited) {
      log.warn(`${program} did not stop in time; killing it`, { pid: child.proc.pid, waitedMs: this.stopTimeoutMs });
      removeGroup(child.proc.pid, program);
      await child.proc.exited;
    }
    removeGroup(child.proc.pid, program);
    rmSync(this.spec.pidRecord, { force: true });
    return exited;
  }

  /**
   * What a previous fos1 (crashed or killed) left of its daemon: one still running is stopped
   * properly, and helpers it forked that outlived it are killed.
   */
  private async stopOrphan(): Promise<void> {
    const { program, pidRecord, log } = this.spec;
    const pid = readPid(pidRecord);
    if (pid === undefined) return;
    if (isProgram(pid, program) && processGroup(pid) === pid) {
      log.info(`stopping the ${program} a previous fos1 left running`, { pid });
      signal(pid, "SIGTERM");
      const deadline = performance.now() + this.stopTimeoutMs;
      while (existsSync(`/proc/${pid}`) && performance.now() < deadline) await Bun.sleep(100);
    }
    removeGroup(pid, program);
    rmSync(pidRecord, { force: true });
  }
}

/**
 * The promise's value, or `late` after ms; the timer is cleared once the promise settles, so a
 * stopping process is not kept alive by a wait nobody needs any more.
 */
function within<T, L>(promise: Promise<T>, ms: number, late: L): Promise<T | L> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<L>((resolve) => (timer = setTimeout(() => resolve(late), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function eachLine(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line) onLine(line);
    }
  }
  if (buffered.trim()) onLine(buffered.trim());
}

export function readPid(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, "utf8").trim());
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The process is that program (daemons rewrite their command line; comm keeps the name). */
export function isProgram(pid: number, program: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === program;
  } catch {
    return false;
  }
}

function processGroup(pid: number): number | undefined {
  try {
    // Field 5 of /proc/PID/stat, counted after the parenthesised command name.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
  } catch {
    return undefined;
  }
}

/**
 * SIGKILLs the program's processes in the process group pgid leads (the daemon runs in its own
 * session). Only processes of that program: the recorded pid may be stale (a reboot), and its
 * number then names someone else's group.
 */
function removeGroup(pgid: number, program: string) {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return;
  }
  for (const e of entries) {
    const pid = Number(e);
    if (Number.isInteger(pid) && pid > 1 && processGroup(pid) === pgid && isProgram(pid, program)) signal(pid, "SIGKILL");
  }
}

function signal(pid: number, sig: NodeJS.Signals) {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

function exitText(proc: Subprocess): string {
  if (proc.signalCode) return `was killed by ${proc.signalCode}`;
  return `exited with code ${proc.exitCode}`;
}
