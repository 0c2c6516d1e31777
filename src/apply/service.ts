// The one way a config reaches the kernel. `fos1 apply`, `fos1 confirm`, `fos1 rollback`, the
// agent (its file and the cluster's objects, its repairs) and the commit-confirm expiry all go
// through here, so the same sequence holds for every one of them:
//
//   lock      one writer of the state dir at a time (lock.ts); a second one waits, bounded
//   validate  the config is read and checked, or was by the caller (the cluster merge)
//   guard     a config that would lock the operator out or open the router is refused
//             (guard.ts): nothing written but a history line; --force is the CLI's alone
//   journal   pending before the first kernel write (journal/); a journal that cannot be
//             written (a full or read-only disk) is a warning (onJournal), never a reason
//             to leave the network unconfigured
//   converge  observe → plan → apply (engine/)
//   confirm   last-known-good once converged, or once confirmed (apply --confirm); rolled
//             back at the deadline, to the last-known-good or, with none, to nothing of
//             fos1's but the firewall in force
import type { LoadedObject } from "../api/load";
import type { ConfigObject } from "../api/kinds";
import { loadConfigText } from "../api/load";
import type { ConfigProblem } from "../api/problems";
import { converge, isConverged, observe, type ApplyOptions, type ApplyResult } from "../engine/apply";
import { desiredState } from "../engine/desired";
import type { DesiredState } from "../engine/model";
import type { EngineEnv } from "../engine/reconciler";
import { applySummary } from "../journal/audit";
import { configsInForce } from "../journal/history";
import { Journal, type HistoryLine, type JournalEntry } from "../journal/journal";
import { ValidatedConfigs } from "../journal/validated-configs";
import { guardReasons } from "./guard";
import { withStateLock, type LockHolder } from "./lock";
import { OperationError } from "../base/errors";
import { diskErrorText } from "../base/state-dir";

/** How long a writer waits for the state dir by default before giving up. */
export const DEFAULT_LOCK_WAIT_MS = 60_000;

export interface ApplyServiceOptions extends Omit<EngineEnv, "stateDir"> {
  stateDir: string;
  /** How long to wait for another writer to let go of the state dir. */
  lockWaitMs?: number;
  /** Called before each phase of a converge (crash tests kill the process there). */
  onPhase?: ApplyOptions["onPhase"];
  /** Told once when another writer holds the state dir and this one waits for it. */
  onLockWait?: (holder: LockHolder | null) => void;
  /**
   * Told after each journal write: null when it was written, else what could not be recorded
   * and why, in words for an operator. The apply goes on either way.
   */
  onJournal?: (problem: string | null) => void;
  /** Told each step of the journal's changes of state (crash tests kill the process there). */
  onJournalStep?: (step: string) => void;
}

/** A config to apply: its text (journaled), where it came from, and its objects when the caller validated it already. */
export interface ConfigCandidate {
  text: string;
  file: string;
  objects?: LoadedObject<ConfigObject>[];
}

export interface ApplyRequest {
  /** Who asks, for the history and the lock: "fos1 apply -f router.yaml", "fos1 agent (config file)". */
  source: string;
  /** Skip the guard: the operator said so on the command line. */
  force?: boolean;
  /** apply --confirm: unless confirmed by then, roll back. */
  confirmBy?: Date;
}

export interface Applied {
  status: "applied";
  result: ApplyResult;
  /** Nothing failed and a fresh plan after applying is empty (degraded links do not count). */
  converged: boolean;
  entry: JournalEntry;
  objects: LoadedObject<ConfigObject>[];
  desired: DesiredState;
}

export type ApplyOutcome =
  | Applied
  | { status: "invalid"; problems: ConfigProblem[] }
  | { status: "refused"; reasons: string[] }
  /** Another apply --confirm waits for `fos1 confirm`: nothing else is applied until it is confirmed or rolled back. */
  | { status: "awaiting confirmation"; pending: JournalEntry };

export interface RolledBack {
  result: ApplyResult | null;
  /** The digest rolled back to, or what was left in force when there was no config to go back to. */
  to: string;
  /** The pending entry was confirmed or dropped by someone else first: nothing was done. */
  already?: "confirmed" | "rolled back";
}

export class ApplyService {
  readonly journal: Journal;
  private readonly validated: ValidatedConfigs;

  constructor(private readonly opts: ApplyServiceOptions) {
    this.journal = new Journal(opts.stateDir, { onStep: opts.onJournalStep });
    this.validated = new ValidatedConfigs(opts.stateDir);
  }

  /** Objects read from the same bytes before, if the journal kept them (validated-configs.ts). */
  knownObjects(text: string, file: string): LoadedObject<ConfigObject>[] | null {
    return this.validated.get(text, file);
  }

  apply(config: ConfigCandidate, req: ApplyRequest): Promise<ApplyOutcome> {
    return this.locked(req.source, () => this.applyHoldingLock(config, req));
  }

  private async applyHoldingLock(config: ConfigCandidate, req: ApplyRequest): Promise<ApplyOutcome> {
    const waiting = this.journal.pending();
    if (waiting?.entry.awaitingConfirmation) return { status: "awaiting confirmation", pending: waiting.entry };
    const kept = config.objects ? null : this.validated.get(config.text, config.file);
    let objects = config.objects ?? kept;
    if (!objects) {
      const loaded = loadConfigText(config.text, config.file);
      if (loaded.problems.length) return { status: "invalid", problems: loaded.problems };
      objects = loaded.objects;
    }
    const desired = desiredState(objects);
    const observed = await observe(desired, this.env());
    const reasons = req.force ? [] : guardReasons(desired, observed);
    if (reasons.length) {
      this.journaled("the refusal", () => this.journal.refused(config.text, req.source, reasons));
      return { status: "refused", reasons };
    }
    const begun = Journal.entryFor(config.text, req.source, req.confirmBy);
    this.journaled("the config being applied", () => this.journal.begin(begun, config.text));
    const result = await converge(desired, { ...this.env(), observed });
    const converged = isConverged(result);
    const summary = applySummary(result);
    // With a confirmation deadline a converged config is not yet the last-known-good: it waits.
    let entry = begun;
    if (!converged) this.journaled("that the apply did not converge", () => this.journal.fail(begun, summary));
    else if (req.confirmBy) entry = this.journaled("that the config waits for confirmation", () => this.journal.awaitConfirmation(begun, summary)) ?? { ...begun, awaitingConfirmation: true };
    else this.journaled("the config as the last-known-good", () => this.journal.commit(begun, summary));
    // Objects read from the kept ones are there already: rewriting megabytes of them on every no-op is waste.
    if (converged && !kept) {
      try {
        this.validated.remember(config.text, objects);
      } catch {
        // Only a cache (the next apply of the same bytes reads the YAML again): not worth a warning.
      }
    }
    return { status: "applied", result, converged, entry, objects, desired };
  }

  /**
   * The agent's repair of the config in force (guarded when it was taken up) after the host
   * drifted: what it wrote goes in the history as "reapplied". Null when an apply --confirm
   * waits for confirmation: its config is left in force meanwhile.
   */
  reapply(config: { digest: string; desired: DesiredState }, source: string): Promise<ApplyResult | null> {
    return this.locked(source, async () => {
      if (this.journal.pending()?.entry.awaitingConfirmation) return null;
      const startedAt = new Date().toISOString();
      const result = await converge(config.desired, this.env());
      if (result.writes) this.journaled("the repair", () => this.journal.reapplied({ digest: config.digest, startedAt, source }, applySummary(result)));
      return result;
    });
  }

  /** `fos1 confirm`: the config waiting for confirmation becomes the last-known-good. */
  confirm(source = "fos1 confirm"): Promise<JournalEntry> {
    return this.locked(source, async () => {
      const pending = this.journal.pending();
      if (!pending?.entry.awaitingConfirmation) throw new OperationError("nothing waits for confirmation (no apply --confirm is pending, or it already rolled back)");
      if (Date.parse(pending.entry.confirmBy!) <= Date.now()) throw new OperationError(`too late: the confirmation deadline ${pending.entry.confirmBy} has passed and the config is being rolled back`);
      try {
        this.journal.commit(pending.entry, {}, "confirmed");
      } catch (err) {
        // Not recorded is not confirmed: the deadline would roll it back all the same.
        throw new OperationError(`cannot record the confirmation in the journal (${this.opts.stateDir}): ${diskErrorText(err)}; the config stays unconfirmed and rolls back at ${pending.entry.confirmBy}`);
      }
      return pending.entry;
    });
  }

  /**
   * Drops the pending config `entry` (not confirmed in time, did not converge, `fos1
   * rollback`): the host goes back to the last-known-good config or, when there never was one,
   * to nothing of fos1's except its firewall, which stays in force: a router must not fail open.
   */
  rollBack(entry: JournalEntry, reason: string, source: string): Promise<RolledBack> {
    return this.locked(source, async () => {
      const pending = this.journal.pending();
      if (!pending || pending.entry.digest !== entry.digest || pending.entry.startedAt !== entry.startedAt) {
        const confirmed = this.journal.lastKnownGood()?.entry.digest === entry.digest;
        return { result: null, to: confirmed ? entry.digest : (this.journal.lastKnownGood()?.entry.digest ?? "nothing"), already: confirmed ? "confirmed" : "rolled back" };
      }
      const lkg = this.journal.lastKnownGood();
      const objects = lkg ? loadConfigText(lkg.text, "last-known-good.yaml").objects : [];
      const result = await converge(desiredState(objects), { ...this.env(), ...(lkg ? {} : { leave: ["firewall" as const] }) });
      this.journaled("the rollback", () => this.journal.discard(pending.entry, { reason, ...applySummary(result) }));
      return { result, to: lkg ? lkg.entry.digest : "no config (nothing of fos1's; its firewall stays in force)" };
    });
  }

  /** `fos1 rollback N`: the Nth config in force before the current one, applied (and guarded) like any other. */
  rollBackTo(n: number, req: ApplyRequest): Promise<ApplyOutcome & { target: HistoryLine }> {
    return this.locked(req.source, async () => {
      const inForce = configsInForce(this.journal.history());
      const target = inForce[inForce.length - 1 - n];
      if (!target) throw new OperationError(`there are only ${Math.max(0, inForce.length - 1)} earlier configs to go back to (see fos1 history)`);
      const text = this.journal.archived(target.digest);
      if (!text) throw new OperationError(`the config ${target.digest} is not in the journal's archive any more`);
      return { ...(await this.applyHoldingLock({ text, file: `${target.digest} (archived)` }, req)), target };
    });
  }

  /**
   * A pending config whose confirmation deadline passed (its `apply --confirm` process may be
   * gone) is rolled back. Returns the milliseconds until a deadline still to come, or null.
   */
  async expireUnconfirmed(source: string, onRollback?: (r: RolledBack, entry: JournalEntry) => void): Promise<number | null> {
    const pending = this.journal.pending();
    if (!pending?.entry.confirmBy) return null;
    const left = Date.parse(pending.entry.confirmBy) - Date.now();
    if (left > 0) return left;
    const r = await this.rollBack(pending.entry, "not confirmed in time", source);
    if (!r.already) onRollback?.(r, pending.entry);
    return null;
  }

  /** Waits (without the lock) until the pending entry is confirmed or its deadline passes. */
  async waitForConfirmation(entry: JournalEntry, pollMs = 200): Promise<"confirmed" | "expired"> {
    const deadline = Date.parse(entry.confirmBy!);
    for (;;) {
      const pending = this.journal.pending();
      if (!pending || pending.entry.digest !== entry.digest || pending.entry.startedAt !== entry.startedAt)
        return this.journal.lastKnownGood()?.entry.digest === entry.digest ? "confirmed" : "expired";
      if (Date.now() >= deadline) return "expired";
      await Bun.sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())));
    }
  }

  private env(): ApplyOptions {
    const { lockWaitMs: _wait, onLockWait: _told, ...env } = this.opts;
    return env;
  }

  /**
   * A journal write that must not stop the apply: the network matters more than its record.
   * What could not be recorded goes to onJournal (a warning, /readyz, a metric).
   */
  private journaled<T>(what: string, write: () => T): T | undefined {
    try {
      const written = write();
      this.opts.onJournal?.(null);
      return written;
    } catch (err) {
      this.opts.onJournal?.(`cannot record ${what} in the journal (${this.opts.stateDir}): ${diskErrorText(err)}`);
      return undefined;
    }
  }

  private locked<T>(command: string, body: () => Promise<T>): Promise<T> {
    return withStateLock(this.opts.stateDir, command, this.opts.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS, body, this.opts.onLockWait);
  }
}

