// Runs one dhcpcd (Debian's dhcpcd-base 9.4, shipped beside fos1) in manager mode for every
// uplink that asks for DHCP, and keeps it matching the engine's specs: started, restarted with
// backoff when it dies, restarted when its config changes, left alone when nothing changed,
// and stopped cleanly.
//
// Files. fos1 owns <stateDir>/dhcpcd.conf (the generated config) and <stateDir>/dhcpcd.pid (the
// pid fos1 started, to find a dhcpcd left behind by a crashed fos1). dhcpcd 9.4 has no option
// to move its own files: its pid file and control socket are in /run/dhcpcd and its leases,
// DUID and secret in /var/lib/dhcpcd, compiled in. Both are writable on Talos (/run is tmpfs,
// /var the persistent EPHEMERAL partition, so the DUID and leases survive reboots and the ISP
// hands back the same addresses and prefix). The fixed pid file also means one dhcpcd manager
// per host: another one (a distribution's service) makes start fail with a message saying so.
//
// No hook script runs (see config.ts): dhcpcd itself installs addresses and routes; DNS servers
// and the rest of the lease are read back from its lease files (status(); see lease.ts).
//
// Stopping. SIGTERM makes dhcpcd remove what it installed (addresses, routes, the delegated
// /64s on the LAN side) without releasing the leases, so a restart gets the same ones back.
// The engine ignores dynamic addresses, so nothing else would ever remove them.
//
// Process group. dhcpcd runs in its own session (detached). With privilege separation (when a
// "dhcpcd" user exists) it forks helpers that outlive a SIGKILLed manager and keep the DHCPv6
// port bound, which breaks the next start; after every exit fos1 kills what is left of the group.
import type { Subprocess } from "bun";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { writeFileAtomic } from "../../base/atomic-file";
import { join } from "node:path";
import { OperationError } from "../../base/errors";
import type { Logger } from "../../base/log";
import { runToolOk } from "../../base/tool";
import { renderDhcpcdConfig } from "./config";
import { buildStatus, parseLease4, parseLease6, type LeaseDump } from "./lease";
import type { DhcpClientSpec, DhcpLeaseStatus } from "./spec";

/** dhcpcd 9.4's manager pid file (RUNDIR is compiled in). */
const DHCPCD_PIDFILE = "/run/dhcpcd/pid";

export interface DhcpSupervisorOptions {
  /** fos1's own files for DHCP: the generated config and the pid of the dhcpcd it started. */
  stateDir: string;
  /** Path of dhcpcd; default: found on PATH, then /usr/sbin/dhcpcd. */
  dhcpcd?: string;
  log: Logger;
  /** dhcpcd's lease directory (its compiled-in DBDIR; default /var/lib/dhcpcd). */
  leaseDir?: string;
  /** Delay before the first restart after dhcpcd dies, doubled each time up to maxMs. */
  backoff?: { initialMs: number; maxMs: number };
  /** How long dhcpcd may take to deconfigure and exit on SIGTERM before it is killed. */
  stopTimeoutMs?: number;
  /** How long to wait for dhcpcd to say it started before converge returns anyway. */
  startTimeoutMs?: number;
}

interface Child {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  startedAt: number;
  /** dhcpcd's last lines, for the message when it dies. */
  lastWords: string[];
  output: Promise<unknown>;
}

export class DhcpSupervisor {
  private readonly log: Logger;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly stopTimeoutMs: number;
  private readonly startTimeoutMs: number;
  private readonly leaseDir: string;
  private specs: DhcpClientSpec[] = [];
  /** The config dhcpcd should run with; "" when it should not run. */
  private config = "";
  private child?: Child;
  private restartTimer?: ReturnType<typeof setTimeout>;
  private failures = 0;
  private orphanChecked = false;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: DhcpSupervisorOptions) {
    this.log = opts.log.with({ component: "dhcp" });
    this.backoff = opts.backoff ?? { initialMs: 1000, maxMs: 60_000 };
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 10_000;
    this.startTimeoutMs = opts.startTimeoutMs ?? 10_000;
    this.leaseDir = opts.leaseDir ?? "/var/lib/dhcpcd";
  }

  get configPath(): string {
    return join(this.opts.stateDir, "dhcpcd.conf");
  }

  private get pidRecord(): string {
    return join(this.opts.stateDir, "dhcpcd.pid");
  }

  /** The pid of the running dhcpcd manager, if any. */
  get pid(): number | undefined {
    return this.child?.proc.pid;
  }

  /** The specs dhcpcd was last asked to run with (empty: it is not to run). */
  running(): DhcpClientSpec[] {
    return this.specs;
  }

  /**
   * Makes dhcpcd match specs: starts it, restarts it when its config changes, stops it when
   * specs is empty, and does nothing when nothing changed. Invalid specs throw
   * InvalidInputError and change nothing. If dhcpcd cannot start, this throws an
   * OperationError, and the supervisor keeps retrying with backoff.
   */
  converge(specs: DhcpClientSpec[]): Promise<void> {
    return this.serial(async () => {
      const config = specs.length ? renderDhcpcdConfig(specs) : "";
      if (config === this.config && (config === "" || this.child || this.restartTimer)) {
        this.log.debug("DHCP client configuration unchanged");
        this.specs = specs;
        return;
      }
      this.specs = specs;
      this.config = config;
      this.cancelRestart();
      this.failures = 0;
      if (this.child) await this.terminate(config ? "its configuration changed" : "no interface asks for DHCP any more");
      if (config) await this.start();
    });
  }

  /** Stops dhcpcd (which removes what it installed) and stops supervising it. */
  stop(): Promise<void> {
    return this.serial(async () => {
      this.config = "";
      this.specs = [];
      this.cancelRestart();
      await this.terminate("fos1 stops the DHCP client");
    });
  }

  /**
   * Stops supervising and ends dhcpcd without it deconfiguring: the addresses and routes it
   * installed stay, until their lease lifetimes run out, and the next start takes the same
   * leases back. This is how the agent stops: a service restart must not take the uplinks down.
   * dhcpcd 9.4 keeps its configuration on SIGTERM only with `persistent` in its config (which
   * would also keep what a config change must remove), and `dhcpcd -x -p` signals the manager
   * by pid file, dropping the -p. So it is ended the way a crash ends it, with SIGKILL, which
   * the next start already handles (stopOrphan, and dhcpcd rebinding its stored lease).
   */
  leave(): Promise<void> {
    return this.serial(async () => {
      this.config = "";
      this.specs = [];
      this.cancelRestart();
      const child = this.child;
      this.child = undefined;
      if (!child) return;
      this.log.info("leaving dhcpcd's addresses and routes in place", { pid: child.proc.pid });
      removeGroup(child.proc.pid);
      await child.proc.exited;
      rmSync(this.pidRecord, { force: true });
    });
  }

  /** Per uplink of the current specs: the leases dhcpcd holds and the addresses in the kernel. */
  async status(): Promise<DhcpLeaseStatus[]> {
    const specs = this.specs;
    const running = this.child !== undefined;
    const ipJson = await runToolOk({ purpose: "read interface addresses", argv: ["ip", "-json", "addr", "show"] });
    const leases = new Map<string, LeaseDump>();
    // A lease file outlives the dhcpcd that wrote it: only a running dhcpcd's leases count.
    if (running)
      for (const s of specs) {
        const v4 = readLease(join(this.leaseDir, `${s.ifname}.lease`), parseLease4);
        const v6 = readLease(join(this.leaseDir, `${s.ifname}.lease6`), parseLease6);
        leases.set(s.ifname, { ...(v4 && s.v4 ? { v4 } : {}), ...(v6 && s.v6 ? { v6 } : {}) });
      }
    return buildStatus(specs, running, leases, ipJson);
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const result = this.queue.then(work);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private binary(): string {
    if (this.opts.dhcpcd) {
      if (!existsSync(this.opts.dhcpcd)) throw new OperationError(`cannot run the DHCP client: ${this.opts.dhcpcd} does not exist`);
      return this.opts.dhcpcd;
    }
    const found = Bun.which("dhcpcd") ?? (existsSync("/usr/sbin/dhcpcd") ? "/usr/sbin/dhcpcd" : null);
    if (!found)
      throw new OperationError(
        "cannot run the DHCP client: dhcpcd is not installed (not on PATH, not /usr/sbin/dhcpcd); fos1's image ships it, on Debian it is the dhcpcd-base package",
      );
    return found;
  }

  private async start(): Promise<void> {
    let proc: Child["proc"];
    try {
      const bin = this.binary();
      if (!this.orphanChecked) {
        await this.stopOrphan();
        this.orphanChecked = true;
      }
      refuseForeignManager();
      mkdirSync(this.opts.stateDir, { recursive: true });
      writeFileAtomic(this.configPath, this.config);
      proc = Bun.spawn([bin, "--nobackground", "--manager", "--config", this.configPath], {
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
        detached: true,
      });
    } catch (err) {
      // Nothing was started, so no exit will schedule the retry: schedule it here.
      this.scheduleRestart();
      if (err instanceof OperationError) throw err;
      throw new OperationError(`cannot start the DHCP client: ${(err as Error).message}`);
    }
    writeFileAtomic(this.pidRecord, `${proc.pid}\n`);
    let announced!: () => void;
    const started = new Promise<void>((resolve) => (announced = resolve));
    const lastWords: string[] = [];
    const onLine = (line: string) => {
      lastWords.push(line);
      if (lastWords.length > 8) lastWords.shift();
      if (/^dhcpcd-\S+ starting$/.test(line)) announced();
      this.relay(line, proc.pid);
    };
    const child: Child = {
      proc,
      startedAt: performance.now(),
      lastWords,
      output: Promise.all([eachLine(proc.stdout, onLine), eachLine(proc.stderr, onLine)]),
    };
    this.child = child;
    this.log.info("dhcpcd started", { pid: proc.pid, interfaces: this.specs.map((s) => s.ifname) });
    void proc.exited.then(() => this.exited(child));

    const outcome = await Promise.race([
      started.then(() => "started" as const),
      proc.exited.then(() => "exited" as const),
      Bun.sleep(this.startTimeoutMs).then(() => "slow" as const),
    ]);
    if (outcome === "exited") {
      await Promise.race([child.output, Bun.sleep(500)]);
      throw new OperationError(`cannot start the DHCP client: dhcpcd ${exitText(proc)}: ${lastWords.join("; ") || "(it said nothing)"}`);
    }
    if (outcome === "slow") this.log.warn("dhcpcd has not reported its start yet", { pid: proc.pid, waitedMs: this.startTimeoutMs });
  }

  private exited(child: Child) {
    removeGroup(child.proc.pid);
    if (this.child !== child) return; // fos1 stopped it on purpose
    this.child = undefined;
    if (!this.config) return;
    if (performance.now() - child.startedAt > this.backoff.maxMs) this.failures = 0;
    this.log.warn("dhcpcd exited unexpectedly; restarting it", { exit: exitText(child.proc), lastWords: child.lastWords });
    this.scheduleRestart();
  }

  private scheduleRestart() {
    if (this.restartTimer || !this.config) return;
    const delay = Math.min(this.backoff.initialMs * 2 ** this.failures, this.backoff.maxMs);
    this.failures++;
    this.log.info("dhcpcd restarts soon", { inMs: delay, attempt: this.failures });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.serial(async () => {
        if (this.config && !this.child) await this.start();
      }).catch((err: unknown) => this.log.error("cannot restart dhcpcd", { error: err }));
    }, delay);
  }

  private cancelRestart() {
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
  }

  private async terminate(reason: string): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child) return;
    this.log.info("stopping dhcpcd", { pid: child.proc.pid, reason });
    child.proc.kill("SIGTERM");
    const exited = await Promise.race([child.proc.exited.then(() => true), Bun.sleep(this.stopTimeoutMs).then(() => false)]);
    if (!exited) {
      this.log.warn("dhcpcd did not stop in time; killing it", { pid: child.proc.pid, waitedMs: this.stopTimeoutMs });
      removeGroup(child.proc.pid);
      await child.proc.exited;
    }
    removeGroup(child.proc.pid);
    rmSync(this.pidRecord, { force: true });
  }

  /**
   * What a previous fos1 (crashed or killed) left of its dhcpcd. The manager itself usually
   * dies with fos1 (SIGPIPE on its next log line, without deconfiguring: the next dhcpcd takes
   * the same leases back), but privilege-separation helpers may stay; a manager that stays is
   * stopped properly.
   */
  private async stopOrphan(): Promise<void> {
    const pid = readPid(this.pidRecord);
    if (pid === undefined) return;
    if (isDhcpcd(pid) && processGroup(pid) === pid) {
      this.log.info("stopping the dhcpcd a previous fos1 left running", { pid });
      signal(pid, "SIGTERM");
      const deadline = performance.now() + this.stopTimeoutMs;
      while (existsSync(`/proc/${pid}`) && performance.now() < deadline) await Bun.sleep(100);
    }
    removeGroup(pid);
    rmSync(this.pidRecord, { force: true });
  }

  private relay(line: string, pid: number) {
    // Talos has no "dhcpcd" user: dhcpcd then runs without privilege separation and says so
    // on every start, in words that look like a fault.
    if (line === "no such user dhcpcd") this.log.debug("dhcpcd runs without privilege separation (no dhcpcd user)", { pid });
    else this.log.info(line, { program: "dhcpcd", pid });
  }
}

/** Another dhcpcd manager holds the host-wide pid file: a second one would only send it commands. */
function refuseForeignManager() {
  const pid = readPid(DHCPCD_PIDFILE);
  if (pid !== undefined && isDhcpcd(pid))
    throw new OperationError(
      `cannot start the DHCP client: another dhcpcd (pid ${pid}, in ${DHCPCD_PIDFILE}) runs on this host and was not started by fos1; stop it (or the service that runs it) so fos1 can manage DHCP on its uplinks`,
    );
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

function readLease<T>(path: string, parse: (msg: Uint8Array) => T | undefined): T | undefined {
  try {
    return parse(new Uint8Array(readFileSync(path)));
  } catch {
    return undefined; // no lease (yet)
  }
}

function readPid(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, "utf8").trim());
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

// dhcpcd rewrites its command line (setproctitle); comm keeps the program name.
function isDhcpcd(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "dhcpcd";
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
 * SIGKILLs the dhcpcd processes of the process group pid leads (dhcpcd runs in its own
 * session). Only processes named dhcpcd: the recorded pid may be stale (a reboot), and its
 * number then names someone else's group.
 */
function removeGroup(pgid: number) {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return;
  }
  for (const e of entries) {
    const pid = Number(e);
    if (Number.isInteger(pid) && pid > 1 && processGroup(pid) === pgid && isDhcpcd(pid)) signal(pid, "SIGKILL");
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
