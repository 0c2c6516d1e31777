// What the agent tells the parts that report on it (readiness, metrics): which config is in
// force, why the config file was not taken, and how each converge went. The agent only calls
// these; the reporting parts never reach back into it.
import type { ApplyResult } from "../engine/apply";
import type { DesiredState } from "../engine/model";

/** Where the config in force came from: the config file, or the journal's last-known-good. */
export type ConfigSource = "file" | "file and cluster" | "last-known-good";

export type ConvergeReport =
  | { trigger: string; seconds: number; desired: DesiredState; result: ApplyResult }
  /** The host could not be observed or written at all (ip missing, no permission). */
  | { trigger: string; seconds: number; error: string };

export interface AgentObserver {
  /** A config file could not be used (unreadable, or invalid): one line per problem, each naming file and line. */
  configRejected(file: string, problems: string[]): void;
  /** A valid config was refused by the guard (it would lock the operator out or open the router): one line per reason. */
  configRefused(file: string, reasons: string[]): void;
  /** A config was taken into force. */
  configInForce(config: { digest: string; source: ConfigSource }): void;
  /** The config file is valid and is the config in force (again). */
  configFileAccepted(): void;
  converged(report: ConvergeReport): void;
  /**
   * After a write to the state dir (the journal) or the agent's check of it at start: what
   * cannot be written and why, or null when all is written. failedWrite: this write failed.
   * The network is converged all the same; only its record is behind.
   */
  stateDirProblem(problem: string | null, failedWrite: boolean): void;
}

/** One observer that passes every event on to each of observers, in order. */
export function observeAll(...observers: AgentObserver[]): AgentObserver {
  return {
    configRejected: (file, problems) => observers.forEach((o) => o.configRejected(file, problems)),
    configRefused: (file, reasons) => observers.forEach((o) => o.configRefused(file, reasons)),
    configInForce: (config) => observers.forEach((o) => o.configInForce(config)),
    configFileAccepted: () => observers.forEach((o) => o.configFileAccepted()),
    converged: (report) => observers.forEach((o) => o.converged(report)),
    stateDirProblem: (problem, failedWrite) => observers.forEach((o) => o.stateDirProblem(problem, failedWrite)),
  };
}
