// Whether the agent is ready, and why not: what `/readyz` answers and sd_notify's STATUS says.
// Pure: it is fed the agent's events (AgentObserver) and computes a report, no I/O.
//
// Ready means the host holds the config file's config: the file was valid, a converge of
// that config finished, nothing failed and the kernel kept every change. Degraded interfaces
// (a NIC that is missing) do not make it not ready — the agent did all it can, and configures
// them when they appear — but they are listed. Not ready: starting up, stopping, a config
// file that was rejected or refused (even though the previous or last-known-good config stays
// in force: what the operator asked for is not what runs), a converge that failed or did not
// converge, a state dir that cannot be written (the network runs, but not on record).
import type { Degraded } from "../engine/op";
import { isConverged } from "../engine/apply";
import { interfaceStates, type InterfaceState } from "./interface-state";
import type { AgentObserver, ConfigSource, ConvergeReport } from "./observer";

export interface ConfigInForce {
  digest: string;
  source: ConfigSource;
  /** Configs taken into force since the agent started, this one included. */
  generation: number;
}

export interface LastConverge {
  outcome: "converged" | "not converged" | "error";
  trigger: string;
  seconds: number;
  /** The generation of the config it converged to. */
  generation: number;
  writes: number;
  failed: string[];
  unconverged: string[];
  error?: string;
}

export interface ReadinessReport {
  ready: boolean;
  /** One line for people (sd_notify STATUS=, logs). */
  status: string;
  /** Why it is not ready, most important first; every problem of a rejected file is one line with file:line:col. */
  reasons: string[];
  config: ConfigInForce | null;
  rejected: { file: string; problems: string[] }[];
  /** Valid configs the guard refused, with why (they would lock the operator out or open the router). */
  refused: { file: string; reasons: string[] }[];
  lastConverge: LastConverge | null;
  degraded: Degraded[];
  interfaces: InterfaceState[];
}

/** More lines than this of one kind are summarised: a huge config that fails must not make a huge answer. */
const MAX_LINES = 20;

export class Readiness implements AgentObserver {
  private config: ConfigInForce | null = null;
  private rejected = new Map<string, string[]>();
  private refused = new Map<string, string[]>();
  private last: LastConverge | null = null;
  private degraded: Degraded[] = [];
  private interfaces: InterfaceState[] = [];
  private stopping = false;
  private stateProblem: string | null = null;

  configRejected(file: string, problems: string[]): void {
    this.rejected.set(file, problems);
  }

  configRefused(file: string, reasons: string[]): void {
    this.refused.set(file, reasons);
  }

  configInForce(config: { digest: string; source: ConfigSource }): void {
    this.config = { ...config, generation: (this.config?.generation ?? 0) + 1 };
    if (config.source !== "last-known-good") this.forgetRejections();
  }

  configFileAccepted(): void {
    this.forgetRejections();
  }

  private forgetRejections(): void {
    this.rejected.clear();
    this.refused.clear();
  }

  converged(r: ConvergeReport): void {
    const generation = this.config?.generation ?? 0;
    const seconds = Math.round(r.seconds * 1000) / 1000;
    if ("error" in r) {
      this.last = { outcome: "error", trigger: r.trigger, seconds, generation, writes: 0, failed: [], unconverged: [], error: r.error };
      return;
    }
    const { result } = r;
    const ok = isConverged(result);
    this.last = {
      outcome: ok ? "converged" : "not converged",
      trigger: r.trigger,
      seconds,
      generation,
      writes: result.writes,
      failed: result.failed.map((f) => `${f.op.subject}: ${f.error}`),
      unconverged: result.unconverged.map((o) => `${o.subject}: the kernel did not keep this change`),
    };
    this.degraded = result.degraded;
    this.interfaces = interfaceStates(r.desired, result);
  }

  stateDirProblem(problem: string | null): void {
    this.stateProblem = problem;
  }

  /** SIGTERM arrived: not ready from now on. */
  stop(): void {
    this.stopping = true;
  }

  report(): ReadinessReport {
    const reasons = this.reasons();
    const ready = reasons.length === 0;
    const degraded = this.degraded.length ? `; ${this.degraded.length} degraded` : "";
    return {
      ready,
      status: ready ? `ready: config ${short(this.config!.digest)} (generation ${this.config!.generation}) in force${degraded}` : `not ready: ${reasons[0]}`,
      reasons,
      config: this.config,
      rejected: [...this.rejected].map(([file, problems]) => ({ file, problems })),
      refused: [...this.refused].map(([file, reasons]) => ({ file, reasons })),
      lastConverge: this.last,
      degraded: this.degraded,
      interfaces: this.interfaces,
    };
  }

  private reasons(): string[] {
    if (this.stopping) return ["the agent is stopping"];
    const reasons: string[] = [];
    const config = this.config;
    const keeping = !config ? "nothing is applied" : config.source === "last-known-good" ? `the last-known-good config (${short(config.digest)}) stays in force` : `the config in force (${short(config.digest)}) stays`;
    for (const [file, problems] of this.rejected) reasons.push(`${file} was rejected (${problems.length} problem${problems.length === 1 ? "" : "s"}); ${keeping}`, ...capped(problems));
    for (const [file, why] of this.refused) reasons.push(`${file} was refused: ${why.join("; ")}; ${keeping}`);
    if (!config) {
      if (!this.rejected.size && !this.refused.size) reasons.push("starting: no config has been read yet");
      return reasons;
    }
    const last = this.last;
    if (!last || last.generation < config.generation) reasons.push(`the config ${short(config.digest)} (generation ${config.generation}) is being applied`);
    else if (last.outcome === "error") reasons.push(`the last converge failed: ${last.error}`);
    else if (last.outcome === "not converged") reasons.push(`the last converge did not converge`, ...capped([...last.failed, ...last.unconverged]));
    if (this.stateProblem) reasons.push(`${this.stateProblem}; the network is configured all the same, but what runs is not on record (a reboot brings back the last-known-good recorded before)`);
    return reasons;
  }
}

const short = (digest: string) => digest.slice(0, 19);

function capped(lines: string[]): string[] {
  return lines.length <= MAX_LINES ? lines : [...lines.slice(0, MAX_LINES), `… and ${lines.length - MAX_LINES} more`];
}
