// The agent: converge the host to the config file at start, then keep it converged. A NIC
// that appears, an owned address or route someone removed, and a rewritten config file all
// lead to one debounced re-converge (scheduler.ts). Only what fos1 owns is ever changed, and
// stopping the agent leaves the network as it is. Every write goes through the apply service
// (src/apply): the state dir's lock, the guard, the journal — as for `fos1 apply`.
//
// Which config is applied. The file when it is valid and the guard lets it through. A file
// that is invalid or unreadable, or that would lock the operator out or open the router, never
// replaces the config in force: at start the last-known-good from the journal is used instead
// (or nothing, on a first boot), later the current one simply stays; either way /readyz, the
// log, a metric and (for a refusal) the history say why.
//
// Self-triggering. The agent's own writes come back as netlink events. They arrive while the
// converge runs (or just after) and give one more converge, which observes a host that now
// matches, plans zero operations and writes nothing, so nothing further is triggered: one
// extra observe per burst. What could loop is a converge whose writes something keeps undoing
// (another daemon fighting over an address, or the kernel not keeping what it accepted): the
// same operations succeed again and again. A successful write needed again right after the
// last one (within the debounce plus about a second) holds the next converge off, 1 s
// doubling up to 60 s, with a warning naming what is being undone. Failed operations change
// nothing in the kernel, so they cause no events and no loop; converges that fail outright
// (ip cannot observe the host) are retried with the same backoff, and so are converges that
// find the state dir held by another writer (a `fos1 apply` from a shell).
import { join } from "node:path";
import { loadConfigText, MAX_CONFIG_BYTES, tooLargeProblem, type LoadResult } from "../api/load";
import { readTextBounded, type BoundedText } from "../base/bounded-read";
import { formatProblem, type ConfigProblem } from "../api/problems";
import type { Logger } from "../base/log";
import { isConverged, type ApplyResult } from "../engine/apply";
import { configDigest } from "../journal/journal";
import { ApplyService, type ApplyOutcome } from "../apply/service";
import { StateDirBusy } from "../apply/lock";
import { DhcpSupervisor, type ScreenedRoutes } from "../engine/dhcp";
import { LanServices } from "../engine/lan/supervisor";
import { lanDir } from "../engine/lan/lease-file";
import { fallbackDir, writeProblem } from "../base/state-dir";
import type { DesiredState } from "../engine/model";
import type { DesiredLan } from "../engine/lan/model";
import { opKey, type Op } from "../engine/op";
import { ConfigWatcher } from "./config-watch";
import type { AgentObserver, ConfigSource } from "./observer";
import { NetlinkMonitor } from "./monitor";
import { ConvergeScheduler } from "./scheduler";
import { expireDynamic } from "../engine/xdp/admin";
import type { ConfigObject } from "../api/kinds";
import type { LoadedObject } from "../api/load";
import { mergeOverBoot } from "./cluster-merge";

export interface AgentOptions {
  configFile: string;
  stateDir: string;
  log: Logger;
  /** Quiet time after the last event before converging. */
  debounceMs?: number;
  /** How often prefixes blocked with a TTL (`fos1 xdp block --ttl`) are checked for expiry. */
  xdpExpiryMs?: number;
  /** Converge (and re-read the config) this often even without events: lost events, a dead watch. */
  resyncMs?: number;
  /** How long a converge waits for another writer of the state dir before trying again later. */
  lockWaitMs?: number;
  ip?: string;
  /** Told which config is in force, why the file was rejected or refused, and how each converge went (readiness, metrics). */
  observer?: AgentObserver;
  /**
   * The node-local objects the cluster has for this node (src/cluster/node-source.ts), merged
   * over the config file with the management path kept as the file has it (cluster-merge.ts).
   */
  cluster?: ClusterObjects;
}

/** What the agent needs of the cluster's node-local objects. */
export interface ClusterObjects {
  selected(): ConfigObject[];
  onChange(listener: () => void): void;
}

interface Config {
  text: string;
  digest: string;
  /** The file it was read from, for messages. */
  file: string;
  objects: LoadedObject[];
  source: ConfigSource;
}

interface ActiveConfig extends Config {
  desired: DesiredState;
}

const DEFAULT_DEBOUNCE_MS = 200;
const DEFAULT_LOCK_WAIT_MS = 5000;
const CLUSTER_CHANGED = "cluster objects";
const HOLD_MAX_MS = 60_000;
/**
 * Writes of the same objects this close together (beyond the debounce, any hold and a few
 * converge durations) count as a fight. A daemon undoing fos1's work reacts in milliseconds;
 * a person deleting the same address twice a few seconds apart is not a fight.
 */
const REPEAT_SLACK_MS = 1000;

export class Agent {
  private readonly log: Logger;
  private readonly service: ApplyService;
  private readonly scheduler: ConvergeScheduler;
  private readonly monitor: NetlinkMonitor;
  private readonly watcher: ConfigWatcher;
  private resyncTimer: ReturnType<typeof setInterval> | null = null;
  private confirmTimer: ReturnType<typeof setTimeout> | null = null;
  private xdpTimer: ReturnType<typeof setInterval> | null = null;
  private readonly dhcp: DhcpSupervisor;
  private readonly lan: LanServices;

  /** The config in force: applied through the service, guarded. */
  private active: ActiveConfig | null = null;
  /** A config read and valid, not yet taken into force (the next converge applies it). */
  private candidate: Config | null = null;
  /** The active config converged since it was taken up: later converges are repairs, journaled only when they write. */
  private committed = false;
  /** Digest of the file content last read, valid or not, so an unchanged file is not re-reported. */
  private seenDigest: string | null = null;
  private degraded = new Map<string, string>();
  /** The operations of the converge running now, as each phase starts. */
  private written: Op[] = [];
  /** The last successful writes, to notice the same ones needed again soon after. */
  private fight = { keys: new Set<string>(), at: 0, repeats: 0, holdMs: 0 };
  private errors = 0;
  private converges = 0;
  private stopping = false;
  /** Why the daemons' files are not in the state dir (it could not be written at start), or null. */
  private readonly startProblem: string | null;
  /** The last journal write's failure, or null. */
  private journalProblem: string | null = null;

  constructor(private readonly opts: AgentOptions) {
    this.log = opts.log;
    // A full or read-only state dir must not keep the DHCP client and the LAN services from
    // starting: their files go to the state dir's runtime folder then (src/base/state-dir.ts).
    const unwritable = writeProblem(opts.stateDir);
    const daemonsDir = unwritable ? fallbackDir(opts.stateDir) : opts.stateDir;
    this.startProblem = unwritable && `the state dir ${opts.stateDir} cannot be written (${unwritable}): the DHCP client's and the LAN services' files (leases included) are in ${daemonsDir} until the agent starts again`;
    this.dhcp = new DhcpSupervisor({ stateDir: join(daemonsDir, "dhcp"), log: opts.log });
    this.lan = new LanServices({ dir: lanDir(daemonsDir), log: opts.log });
    this.service = new ApplyService({
      stateDir: opts.stateDir,
      onJournal: (problem) => this.journalWritten(problem),
      ...(opts.ip ? { ip: opts.ip } : {}),
      dhcp: this.dhcp,
      lan: this.lan,
      lockWaitMs: opts.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS,
      onPhase: (_phase, ops) => void this.written.push(...ops),
    });
    this.scheduler = new ConvergeScheduler((reasons) => this.step(reasons), opts.debounceMs ?? DEFAULT_DEBOUNCE_MS);
    this.monitor = new NetlinkMonitor({
      ...(opts.ip ? { ip: opts.ip } : {}),
      log: opts.log,
      onEvent: (e) => this.scheduler.request(`netlink ${e.object}`),
      onRestart: () => this.scheduler.request("netlink monitor restarted"),
    });
    opts.cluster?.onChange(() => this.scheduler.request(CLUSTER_CHANGED));
    this.watcher = new ConfigWatcher(opts.configFile, opts.log, () => {
      // The operator acted: apply it now even if the agent is holding off.
      this.scheduler.releaseHold();
      this.scheduler.request("config file");
    });
  }

  /** Starts watching, then converges once; resolves after that first converge. */
  async start(): Promise<void> {
    if (this.startProblem) {
      this.log.warn(`${this.startProblem}; the network is configured all the same`);
      this.opts.observer?.stateDirProblem(this.startProblem, true);
    }
    // Watch before the first observation, so no change falls between the two.
    this.monitor.start();
    this.watcher.ensure();
    await this.expireUnconfirmed();
    const interrupted = this.service.journal.pending();
    if (interrupted && !interrupted.entry.awaitingConfirmation)
      this.log.warn("an earlier apply did not finish or did not converge; converging again", { digest: interrupted.entry.digest, since: interrupted.entry.startedAt, source: interrupted.entry.source });
    await this.scheduler.runNow("start");
    if (this.stopping) return;
    const resyncMs = this.opts.resyncMs ?? 300_000;
    if (resyncMs > 0)
      this.resyncTimer = setInterval(() => {
        if (this.watcher.ensure()) this.scheduler.request("config file");
        this.scheduler.request("resync");
      }, resyncMs);
    // `fos1 xdp block` runs in other processes and records entries in the state dir: polling
    // that small folder is simpler and sturdier than being told.
    this.xdpTimer = setInterval(() => this.expireXdp(), this.opts.xdpExpiryMs ?? 1000);
    this.log.info("watching for changes", { config: this.opts.configFile, monitorPid: this.monitor.pid });
  }

  /**
   * An `apply --confirm` whose process died: past its deadline it is rolled back now, before
   * anything else; otherwise the agent checks again when the deadline comes (and, when the
   * state dir was busy or the rollback failed, again a second later).
   */
  private async expireUnconfirmed(): Promise<void> {
    if (this.confirmTimer) clearTimeout(this.confirmTimer);
    this.confirmTimer = null;
    let left: number | null;
    try {
      left = await this.service.expireUnconfirmed("fos1 agent (confirmation deadline)", (r, entry) =>
        this.log.warn("rolled back a config that was not confirmed in time", { digest: entry.digest, appliedAt: entry.startedAt, by: entry.source, to: r.to }),
      );
    } catch (err) {
      this.log.error("rolling back an unconfirmed config failed; trying again", { error: (err as Error).message });
      left = 1000;
    }
    if (left !== null && !this.stopping)
      this.confirmTimer = setTimeout(() => void this.expireUnconfirmed().then(() => this.scheduler.request("confirmation deadline")), left + 50);
  }

  private expireXdp(): void {
    try {
      const gone = expireDynamic(this.opts.stateDir, this.active?.desired.xdp);
      if (gone.length) this.log.info("XDP blocks expired and were removed", { prefixes: gone });
    } catch (err) {
      this.log.error("removing expired XDP blocks", { error: (err as Error).message });
    }
  }

  /** Stops watching and waits for a running converge; the network is left as it is. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.confirmTimer) clearTimeout(this.confirmTimer);
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    if (this.xdpTimer) clearInterval(this.xdpTimer);
    this.resyncTimer = null;
    this.watcher.close();
    await Promise.all([this.monitor.stop(), this.scheduler.stop()]);
    // dhcpcd's addresses and routes stay until their leases run out; a restarted agent's
    // dhcpcd takes the same leases back. dnsmasq stops serving; its leases stay on disk.
    await Promise.all([this.dhcp.leave(), this.lan.stop()]);
  }

  private async step(reasons: string[]): Promise<void> {
    try {
      let changed = false;
      if (reasons.includes("start")) changed = await this.readConfig(true);
      else if (reasons.some((r) => r === "config file" || r === "resync" || r === CLUSTER_CHANGED)) changed = await this.readConfig(false);
      if (!this.active && !this.candidate) return;
      // A touched but unchanged file alone is no reason to look at the host.
      if (!changed && !this.candidate && reasons.every((r) => r === "config file" || r === CLUSTER_CHANGED)) return;
      await this.converge(reasons.join(", "), changed);
    } catch (err) {
      // A bug must not end the agent: the network stays as it is and the next event tries again.
      this.log.error("internal error while converging", { trigger: reasons.join(", "), error: (err as Error).stack ?? String(err) });
    }
  }

  /** Reads the config file (and the cluster's objects); a valid new config becomes the candidate. */
  private async readConfig(atStart: boolean): Promise<boolean> {
    const file = this.opts.configFile;
    let read: BoundedText;
    try {
      read = await readTextBounded(file, MAX_CONFIG_BYTES);
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message;
      if (this.seenDigest !== "unreadable" || atStart) this.log.error("cannot read the config file", { file, error: reason, keeping: this.keeping(atStart) });
      this.opts.observer?.configRejected(file, [`${file}: cannot read the config file: ${reason}`]);
      this.seenDigest = "unreadable";
      return atStart ? this.fallBack() : false;
    }
    if ("tooLarge" in read) {
      const seen = `too large: ${read.tooLarge}`;
      if (!atStart && seen === this.seenDigest) return false;
      this.seenDigest = seen;
      this.reportProblems(file, [tooLargeProblem(file, read.tooLarge)], this.keeping(atStart));
      return atStart ? this.fallBack() : false;
    }
    const text = read.text;
    const cluster = this.opts.cluster?.selected() ?? [];
    // The file and the cluster's objects together: a change of either is a new config.
    const seen = configDigest(text + (cluster.length ? JSON.stringify(cluster) : ""));
    if (!atStart && seen === this.seenDigest) return false;
    this.seenDigest = seen;
    const loaded = loadSafely(text, file);
    if (loaded.problems.length) {
      this.reportProblems(file, loaded.problems, this.keeping(atStart));
      return atStart ? this.fallBack() : false;
    }
    const merged = cluster.length ? mergeOverBoot(text, file, cluster) : null;
    for (const l of merged?.leftOut ?? []) this.log.warn("a cluster object for this node is left out", { object: l.ref, reason: l.reason });
    const config = merged?.taken.length ? { text: merged.text, objects: merged.objects, source: "file and cluster" as const } : { text, objects: loaded.objects, source: "file" as const };
    const digest = configDigest(config.text);
    if (this.active && digest === this.active.digest && !atStart) {
      this.candidate = null;
      this.opts.observer?.configFileAccepted(); // back to what is applied
      return false;
    }
    this.candidate = { ...config, digest, file };
    if (!atStart) this.log.info(merged?.taken.length ? "config changed; applying the file with the cluster's objects" : "config file changed; applying it", { file, digest, ...(merged?.taken.length ? { fromCluster: merged.taken } : {}) });
    return true;
  }

  /** After each journal write: a failure is a warning (once per distinct one), never a stop. */
  private journalWritten(problem: string | null): void {
    if (problem && problem !== this.journalProblem) this.log.warn(`${problem}; the network is configured all the same`);
    if (!problem && this.journalProblem) this.log.info("the journal is written again", { stateDir: this.opts.stateDir });
    this.journalProblem = problem;
    this.opts.observer?.stateDirProblem(problem ?? this.startProblem, problem !== null);
  }

  /** Per uplink with classlessStaticRoutes: option 121's routes as last installed and refused (for /metrics). */
  dhcpRoutes(): ReadonlyMap<string, ScreenedRoutes> {
    return this.dhcp.screenedRoutes();
  }

  /** What the LAN services serve now (for /metrics). */
  lanServing(): DesiredLan | undefined {
    return this.lan.running();
  }

  /** The objects of the config in force, or of the one being taken up while none is yet (null before one is read). */
  configObjects(): { digest: string; objects: LoadedObject[] } | null {
    const config = this.active ?? this.candidate;
    return config && { digest: config.digest, objects: config.objects };
  }

  /** At start without a usable file: the journal's last-known-good, if there is one. */
  private fallBack(): boolean {
    const lkg = this.service.journal.lastKnownGood();
    if (!lkg) {
      this.log.error("no last-known-good config in the journal: nothing is applied until the config file is valid", { stateDir: this.opts.stateDir });
      return false;
    }
    const name = join(this.opts.stateDir, "last-known-good.yaml");
    const loaded = loadSafely(lkg.text, name);
    if (loaded.problems.length) {
      this.reportProblems(name, loaded.problems, "nothing is applied until the config file is valid");
      return false;
    }
    this.candidate = { text: lkg.text, digest: configDigest(lkg.text), file: name, objects: loaded.objects, source: "last-known-good" };
    this.log.warn("converging to the last-known-good config", { digest: lkg.entry.digest, appliedAt: lkg.entry.startedAt });
    return true;
  }

  private keeping(atStart: boolean): string {
    if (atStart) return "the last-known-good config from the journal, if any";
    return this.active ? `the config in force (${this.active.digest.slice(0, 19)})` : "nothing applied";
  }

  private reportProblems(file: string, problems: ConfigProblem[], keeping: string): void {
    const n = problems.length;
    for (const p of problems) this.log.error(formatProblem(p), { file });
    this.opts.observer?.configRejected(file, problems.map(formatProblem));
    this.log.error(`${file}: ${n} problem${n === 1 ? "" : "s"}; the config was not applied`, { file, problems: n, keeping });
  }

  private async converge(trigger: string, configChanged: boolean): Promise<void> {
    const source = `fos1 agent (${trigger})`;
    this.written = [];
    const started = performance.now();
    let result: ApplyResult | null;
    let desired: DesiredState;
    try {
      if (this.candidate || !this.committed) {
        const config = this.candidate ?? this.active!;
        const outcome = await this.service.apply({ text: config.text, file: config.file, objects: config.objects }, { source });
        // Refused at start: the last-known-good, if there is one, is tried at once.
        if (outcome.status !== "applied") return this.notTaken(config, outcome) ? this.converge(`${trigger}, last-known-good`, configChanged) : undefined;
        this.candidate = null;
        if (config !== this.active) {
          this.active = { ...config, desired: outcome.desired };
          this.fight = { keys: new Set(), at: 0, repeats: 0, holdMs: 0 };
          this.opts.observer?.configInForce({ digest: config.digest, source: config.source });
        }
        this.committed = outcome.converged;
        result = outcome.result;
      } else {
        result = await this.service.reapply(this.active!, source);
        if (!result) return this.log.debug("an apply --confirm waits for confirmation: its config stays as it is until then", { trigger });
      }
      desired = this.active!.desired;
    } catch (err) {
      // The state dir is busy (an apply from a shell), or observing failed (ip missing, a
      // permission problem): try again later, not in a tight loop.
      const retryInMs = Math.min(1000 * 2 ** this.errors++, HOLD_MAX_MS);
      if (err instanceof StateDirBusy) this.log.info("the state dir is busy; converging after its holder", { trigger, holder: err.holder, retryInMs });
      else {
        this.log.error("converge failed", { trigger, error: (err as Error).message, retryInMs });
        this.opts.observer?.converged({ trigger, seconds: (performance.now() - started) / 1000, error: (err as Error).message });
      }
      this.scheduler.holdFor(retryInMs);
      this.scheduler.request("retry");
      return;
    }
    this.errors = 0;
    this.converges++;
    await this.passUpstreamResolvers(desired);
    this.opts.observer?.converged({ trigger, seconds: (performance.now() - started) / 1000, desired, result });
    const converged = isConverged(result);
    const degradedChanged = this.noteDegraded(result);
    for (const f of result.failed) this.log.warn("could not apply", { ref: f.op.ref, subject: f.op.subject, error: f.error });
    const fields = {
      trigger,
      config: this.active!.digest.slice(0, 19),
      writes: result.writes,
      processes: result.processes,
      degraded: result.degraded.length,
      failed: result.failed.length,
      unconverged: result.unconverged.length,
      ms: Math.round(performance.now() - started),
      n: this.converges,
    };
    const msg = converged ? "converged" : "did not converge";
    // Converges that found nothing to do are the echo of the agent's own writes: debug only.
    if (result.writes || !converged || degradedChanged || configChanged || trigger.includes("start")) this.log.info(msg, fields);
    else this.log.debug(msg, fields);
    if (!converged && result.unconverged.length && !result.failed.length)
      this.log.warn("the kernel did not keep some changes", { subjects: result.unconverged.map((o) => o.subject) });
    const failed = new Set(result.failed.map((f) => f.op));
    this.noteFight(this.written.filter((o) => !failed.has(o)), performance.now() - started);
  }

  /**
   * The resolver forwards to the resolvers the uplinks' DHCP leases name, unless it names its
   * own: those change with the leases, so they are passed on after every converge.
   */
  private async passUpstreamResolvers(desired: DesiredState): Promise<void> {
    const dns = desired.lan?.dns;
    if (!dns || dns.forwarders.length) return;
    try {
      const leases = await this.dhcp.status();
      this.lan.setUpstream([...new Set(leases.flatMap((l) => [...(l.v4?.dnsServers ?? []), ...(l.v6?.dnsServers ?? [])]))]);
    } catch (err) {
      this.log.warn("cannot read the uplinks' DHCP leases for the resolver's upstream servers", { error: (err as Error).message });
    }
  }

  /** A config the service did not take into force: the one in force stays. True when, with none in force, the last-known-good is to be tried. */
  private notTaken(config: Config, outcome: Exclude<ApplyOutcome, { status: "applied" }>): boolean {
    this.candidate = null;
    const keeping = this.active ? `the config in force (${this.active.digest.slice(0, 19)})` : "nothing applied";
    switch (outcome.status) {
      case "invalid":
        this.reportProblems(config.file, outcome.problems, keeping);
        break;
      case "refused":
        for (const reason of outcome.reasons) this.log.error(`${config.file}: refused: ${reason}`, { file: config.file, digest: config.digest });
        this.log.error(`${config.file}: the config was refused, it would lock the operator out or open the router; it is not applied`, { file: config.file, keeping });
        this.opts.observer?.configRefused(config.file, outcome.reasons);
        break;
      case "awaiting confirmation":
        // Applied once the operator's pending config is confirmed or rolled back (the deadline timer asks again).
        this.candidate = config;
        this.log.info("an apply --confirm waits for confirmation; the new config is applied after it", { digest: config.digest, waitingUntil: outcome.pending.confirmBy });
        return false;
    }
    return !this.active && config.source !== "last-known-good" && this.fallBack();
  }

  /**
   * Holds off the next converge when writes that succeeded are needed again soon after:
   * something keeps undoing them. Converges that write nothing (the echo of the agent's own
   * writes) neither count nor reset; a write of other objects, or a quiet spell, resets.
   */
  private noteFight(effective: Op[], convergeMs: number): void {
    if (!effective.length) return;
    const now = performance.now();
    const window = this.fight.holdMs + (this.opts.debounceMs ?? DEFAULT_DEBOUNCE_MS) + Math.max(REPEAT_SLACK_MS, 3 * convergeMs);
    const keys = new Set(effective.map(opKey));
    const redone = effective.filter((o) => this.fight.keys.has(opKey(o)));
    const again = redone.length > 0 && now - this.fight.at < window;
    const repeats = again ? this.fight.repeats + 1 : 0;
    const holdMs = again ? Math.min(1000 * 2 ** (repeats - 1), HOLD_MAX_MS) : 0;
    this.fight = { keys, at: now, repeats, holdMs };
    if (!again) return;
    this.scheduler.holdFor(holdMs);
    this.log.warn("the same changes were needed again: something keeps undoing them; waiting before the next converge", {
      waitMs: holdMs,
      repeats,
      subjects: [...new Set(redone.map((o) => o.subject))],
    });
  }

  /** Logs links and routes that became degraded or recovered; says whether the set changed. */
  private noteDegraded(result: ApplyResult): boolean {
    const now = new Map(result.degraded.map((d) => [`${d.ref}: ${d.subject}`, d.reason]));
    let changed = false;
    for (const [key, reason] of now)
      if (this.degraded.get(key) !== reason) {
        changed = true;
        const d = result.degraded.find((x) => `${x.ref}: ${x.subject}` === key)!;
        this.log.warn("degraded: skipped until it is available", { ref: d.ref, subject: d.subject, reason });
      }
    for (const key of this.degraded.keys())
      if (!now.has(key)) {
        changed = true;
        this.log.info("no longer degraded", { what: key });
      }
    this.degraded = now;
    return changed;
  }
}

/**
 * Loading never throws by design (src/api/load.ts); should a bug make it throw on some file, the
 * file is still only a config with a problem, so the agent falls back instead of ending.
 */
function loadSafely(text: string, file: string): LoadResult {
  try {
    return loadConfigText(text, file);
  } catch (err) {
    return { objects: [], problems: [{ file, document: 1, path: [], message: `fos1 could not load this file (${(err as Error).message}); this is a bug in fos1, please report it with the file` }] };
  }
}
