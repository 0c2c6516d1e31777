// The agent's Prometheus metrics (prom-client), all named fos1_…, in a registry of their own.
// prom-client's default process metrics are left out: under Bun several of them are wrong
// (a heap of gigabytes, NaN event-loop lag), and a wrong number is worse than none.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { INTERFACE_STATES, interfaceStates } from "./interface-state";
import type { AgentObserver, ConfigSource, ConvergeReport } from "./observer";
import { isConverged } from "../engine/apply";

/** Outcomes of a converge, as the `outcome` label says them. */
export const OUTCOMES = ["converged", "not_converged", "error"] as const;

export class AgentMetrics implements AgentObserver {
  readonly registry = new Registry();
  private readonly converges: Counter<"outcome">;
  private readonly duration: Histogram;
  private readonly writes: Counter;
  private readonly lastConverge: Gauge;
  private readonly generation: Gauge;
  private readonly configInfo: Gauge<"digest" | "source">;
  private readonly fileValid: Gauge;
  private readonly fileRefused: Gauge;
  private readonly interfaces: Gauge<"interface" | "device" | "kind" | "state">;
  private readonly stateWritable: Gauge;
  private readonly stateWriteErrors: Counter;
  private readonly now: () => number;

  /** isReady: read at each scrape, so fos1_ready always agrees with /readyz. */
  constructor(isReady: () => boolean, now: () => number = Date.now) {
    const registers = [this.registry];
    this.now = now;
    this.converges = new Counter({ name: "fos1_converges_total", help: "Converges (observe, plan, apply) run by the agent, by outcome: converged, not_converged (an operation failed or the kernel did not keep it), error (the host could not be observed or written).", labelNames: ["outcome"], registers });
    for (const outcome of OUTCOMES) this.converges.inc({ outcome }, 0);
    this.duration = new Histogram({ name: "fos1_converge_duration_seconds", help: "How long a converge took, observation to final check.", buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers });
    this.writes = new Counter({ name: "fos1_converge_writes_total", help: "Operations the agent sent to the kernel (0 for a converge that found the host as configured).", registers });
    this.lastConverge = new Gauge({ name: "fos1_last_converge_timestamp_seconds", help: "When the last converge finished (Unix time); 0 before the first.", registers });
    this.generation = new Gauge({ name: "fos1_config_generation", help: "Configs taken into force since the agent started; it grows by one with each new config (from the file or the last-known-good).", registers });
    this.configInfo = new Gauge({ name: "fos1_config_info", help: "The config in force: its sha256 digest and where it came from (file or last-known-good). Always 1.", labelNames: ["digest", "source"], registers });
    this.fileValid = new Gauge({ name: "fos1_config_file_valid", help: "1 when the config file was valid when last read, 0 when it was rejected (invalid or unreadable).", registers });
    this.fileRefused = new Gauge({ name: "fos1_config_file_refused", help: "1 when the config last read is valid but was refused: it would lock the operator out or open the router (the config in force stays), else 0.", registers });
    this.interfaces = new Gauge({ name: "fos1_interface_state", help: "Per configured interface after the last converge: 1 for its state (converged, degraded, failed, unconverged), 0 for the others.", labelNames: ["interface", "device", "kind", "state"], registers });
    this.stateWritable = new Gauge({ name: "fos1_state_dir_writable", help: "1 while the state dir (the journal, the daemons' files) takes writes, 0 after a write failed (a full or read-only disk) until one succeeds again, or while the daemons' files are in /run because it failed at start; the network converges either way.", registers });
    this.stateWritable.set(1);
    this.stateWriteErrors = new Counter({ name: "fos1_state_dir_write_errors_total", help: "Writes to the state dir that failed (the journal's records, the daemons' files): each is a warning, never a reason to leave the network unconfigured.", registers });
    new Gauge({
      name: "fos1_ready",
      help: "1 when the agent is ready (what /readyz answers with 200), else 0.",
      registers,
      collect() {
        this.set(isReady() ? 1 : 0);
      },
    });
  }

  stateDirProblem(problem: string | null, failedWrite: boolean): void {
    this.stateWritable.set(problem ? 0 : 1);
    if (failedWrite) this.stateWriteErrors.inc();
  }

  configRejected(): void {
    this.fileValid.set(0);
  }

  configRefused(): void {
    this.fileValid.set(1);
    this.fileRefused.set(1);
  }

  configInForce(config: { digest: string; source: ConfigSource }): void {
    this.generation.inc();
    this.configInfo.reset();
    this.configInfo.set({ digest: config.digest, source: config.source }, 1);
    if (config.source === "last-known-good") return;
    this.fileValid.set(1);
    this.fileRefused.set(0);
  }

  configFileAccepted(): void {
    this.fileValid.set(1);
    this.fileRefused.set(0);
  }

  converged(r: ConvergeReport): void {
    this.duration.observe(r.seconds);
    this.lastConverge.set(this.now() / 1000);
    if ("error" in r) {
      this.converges.inc({ outcome: "error" });
      return;
    }
    const ok = isConverged(r.result);
    this.converges.inc({ outcome: ok ? "converged" : "not_converged" });
    this.writes.inc(r.result.writes);
    this.interfaces.reset();
    for (const i of interfaceStates(r.desired, r.result))
      for (const state of INTERFACE_STATES) this.interfaces.set({ interface: i.interface, device: i.device, kind: i.kind, state }, i.state === state ? 1 : 0);
  }

  /** The text exposition format, as /metrics serves it. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
