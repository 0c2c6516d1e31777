// Observe and apply: the only place the engine touches the host. Every reconciler observes its
// part through one shared reader; a plan's operations are written phase by phase, each phase
// as one `ip -force -batch -` process (-force: a failing line does not stop the rest, and
// iproute2 names the failing line so it is pinned to its operation), one `nft -j -f -`
// transaction, and the direct writes (sysctls, libbpf, the DHCP supervisor). Afterwards the
// host is observed again and planned against: what is still to do did not converge.
import { explainToolError, runTool } from "../base/tool";
import { HostReader } from "./host-reader";
import type { DesiredState, ObservedState } from "./model";
import { PHASES, type Degraded, type Op, type OpFailure, type Phase } from "./op";
import { plan, type PlanOptions } from "./plan";
import type { EngineEnv, NftWriteOptions, PhaseWriter } from "./reconciler";
import { rulesetGenerationOrNull } from "./firewall/generation";
import { RECONCILERS } from "./reconcilers";

export interface ApplyResult {
  /** Operations sent to the kernel (0 when the host already matched). */
  writes: number;
  /** The operations that were planned and sent. */
  applied: Op[];
  processes: number;
  failed: OpFailure[];
  degraded: Degraded[];
  /** What a fresh plan still wants after applying: empty when the host converged. */
  unconverged: Op[];
}

/** Nothing failed and a fresh plan after applying is empty (degraded links do not count). */
export const isConverged = (r: ApplyResult) => r.failed.length === 0 && r.unconverged.length === 0;

export interface ApplyOptions extends EngineEnv, PlanOptions {
  /** Called before each phase runs; crash-safety tests use it to find a moment to kill. */
  onPhase?: (phase: Phase, ops: Op[]) => void;
  /**
   * The host as the caller has just observed it (observe()), so a caller that had to look
   * before deciding to apply (the lockout guard) does not read every link twice.
   */
  observed?: ObservedState;
}

/** Everything plan() compares against `desired`, each reconciler reading its part. */
export async function observe(desired: DesiredState, env: EngineEnv = {}): Promise<ObservedState> {
  const host = new HostReader(env);
  const parts = await Promise.all(RECONCILERS.map((r) => r.observe(host, r.desired(desired))));
  return Object.assign({ sysctls: {}, firewall: null, links: [], routes: [], rules: [] }, ...parts) as ObservedState;
}

/** Writes the operations, phase by phase, one process per tool and phase. */
export async function execute(ops: Op[], opts: ApplyOptions = {}): Promise<{ failed: OpFailure[]; processes: number }> {
  const failed: OpFailure[] = [];
  let processes = 0;
  let firewallFailed = false;
  for (const phase of PHASES) {
    const inPhase = ops.filter((o) => o.phase === phase);
    if (!inPhase.length) continue;
    // Without the config's firewall in force, nothing that answers or asks on a network starts.
    if (firewallFailed && UNGUARDED_WITHOUT_FIREWALL.includes(phase)) {
      failed.push(...inPhase.map((op) => ({ op, error: "not started: the config's firewall is not in force (see the firewall's error)" })));
      continue;
    }
    opts.onPhase?.(phase, inPhase);
    const batch = new PhaseBatch();
    // Each reconciler renders its own operations, in plan order.
    for (let i = 0; i < inPhase.length; ) {
      let j = i + 1;
      while (j < inPhase.length && inPhase[j]!.resource === inPhase[i]!.resource) j++;
      RECONCILERS.find((r) => r.resource === inPhase[i]!.resource)!.write(inPhase.slice(i, j), batch, opts);
      i = j;
    }
    const r = await batch.run(opts.ip ?? "ip");
    failed.push(...r.failed);
    processes += r.processes;
    if (phase === "firewall" && r.failed.length) firewallFailed = true;
  }
  return { failed, processes };
}

/** Phases that start clients and servers on the networks (DHCP, the LAN services). */
const UNGUARDED_WITHOUT_FIREWALL: Phase[] = ["dhcp", "lan"];

/** Observe (unless the caller just did), plan, apply, and observe again to verify. */
export async function converge(desired: DesiredState, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const before = plan(desired, opts.observed ?? (await observe(desired, opts)), opts);
  const { failed, processes } = before.ops.length ? await execute(before.ops, opts) : { failed: [], processes: 0 };
  const after = before.ops.length ? plan(desired, await observe(desired, opts), opts) : before;
  return { writes: before.ops.length, applied: before.ops, processes, failed, degraded: after.degraded, unconverged: after.ops };
}

/**
 * What each operation writes, as text: its line of `ip -batch` ("-6 " before one that needs
 * `ip -6`), its nft commands as JSON, or, for a direct write, its change as JSON. Rendered by
 * the reconcilers' own write(), as apply renders them; for golden files, tests and benchmarks.
 */
export function rendered(ops: Op[]): string[] {
  return ops.map((op) => {
    let text = JSON.stringify(op.change);
    const recorder: PhaseWriter = {
      ip: (_op, line, o) => void (text = `${o?.ipv6 ? "-6 " : ""}${line}`),
      nft: (_op, commands) => void (text = JSON.stringify({ nftables: commands })),
      call: () => {},
    };
    RECONCILERS.find((r) => r.resource === op.resource)!.write([op], recorder, {});
    return text;
  });
}

/** One phase's writes, collected from the reconcilers and then run: ip batches, the nft transaction, the direct calls. */
class PhaseBatch implements PhaseWriter {
  private readonly lines: { v4: { op: Op; line: string }[]; v6: { op: Op; line: string }[] } = { v4: [], v6: [] };
  private readonly nftOps: Op[] = [];
  private readonly nftCommands: unknown[][] = [];
  private readonly nftIfRefused: unknown[][] = [];
  private readonly nftLoaded: NonNullable<NftWriteOptions["loaded"]>[] = [];
  private readonly calls: (() => OpFailure[] | Promise<OpFailure[]>)[] = [];

  ip(op: Op, line: string, opts: { ipv6?: boolean } = {}): void {
    this.lines[opts.ipv6 ? "v6" : "v4"].push({ op, line });
  }

  nft(op: Op, commands: unknown[], opts: NftWriteOptions = {}): void {
    this.nftOps.push(op);
    this.nftCommands.push(commands);
    if (opts.ifRefused) this.nftIfRefused.push(opts.ifRefused);
    if (opts.loaded) this.nftLoaded.push(opts.loaded);
  }

  call(run: () => OpFailure[] | Promise<OpFailure[]>): void {
    this.calls.push(run);
  }

  async run(ip: string): Promise<{ failed: OpFailure[]; processes: number }> {
    const failed: OpFailure[] = [];
    let processes = 0;
    for (const [family, batch] of [["v4", this.lines.v4], ["v6", this.lines.v6]] as const) {
      if (!batch.length) continue;
      processes++;
      failed.push(...(await runBatch(ip, family === "v6", batch)));
    }
    if (this.nftOps.length) {
      processes++;
      // One transaction: all of fos1's table or, if nft refuses it, none of it.
      const before = this.nftLoaded.length ? rulesetGenerationOrNull() : null;
      const r = await runTool({ purpose: "load the firewall", argv: ["nft", "-j", "-f", "-"], stdin: JSON.stringify({ nftables: this.nftCommands.flat() }) });
      if (r.exitCode === 0 && this.nftLoaded.length) {
        const after = rulesetGenerationOrNull();
        for (const loaded of this.nftLoaded) loaded({ before, after });
      }
      if (r.exitCode !== 0) {
        const refusal = r.stderr.trim().split("\n").slice(0, 3).join("; ");
        const inForce = await this.instead();
        failed.push(...this.nftOps.map((op) => ({ op, error: `nft refused the ruleset (${inForce}): ${refusal}` })));
      }
    }
    for (const run of this.calls) failed.push(...(await run()));
    return { failed, processes };
  }

  /** After a refusal: what is in force now, loading the fallback transaction if there is one. */
  private async instead(): Promise<string> {
    if (!this.nftIfRefused.length) return "the previous one stays in force";
    const r = await runTool({ purpose: "load the lockdown firewall", argv: ["nft", "-j", "-f", "-"], stdin: JSON.stringify({ nftables: this.nftIfRefused.flat() }) });
    return r.exitCode === 0
      ? "no config's table of fos1's is in force, so the lockdown is: management in, established traffic, nothing else"
      : `no config's table of fos1's is in force, and nft refused the lockdown too (${r.stderr.trim().split("\n")[0]}): only Talos's own firewall stands`;
  }
}

async function runBatch(ip: string, v6: boolean, batch: { op: Op; line: string }[]): Promise<OpFailure[]> {
  const argv = [ip, ...(v6 ? ["-6"] : []), "-force", "-batch", "-"];
  const r = await runTool({ purpose: "apply changes", argv, stdin: batch.map((b) => b.line).join("\n") + "\n" });
  if (r.exitCode === 0) return [];
  const { failed, aborted } = batchErrors(r.stderr);
  const out = [...failed].flatMap(([line, message]) => (batch[line - 1] ? [{ op: batch[line - 1]!.op, error: explainToolError("ip", message) }] : []));
  // An argument ip cannot resolve (e.g. "master br0" when br0 was not created) ends the whole
  // batch despite -force, without a line number: everything after the last numbered failure
  // is reported as not applied, with ip's reason.
  if (aborted) {
    const from = Math.max(0, ...failed.keys());
    for (const b of batch.slice(from)) out.push({ op: b.op, error: `not applied: ip stopped the batch at "${explainToolError("ip", aborted)}"` });
  }
  return out;
}

/**
 * iproute2 batch errors: the kernel's message lines, then "Command failed -:N" for each failed
 * line; messages after the last of those mean ip gave up on the batch (an argument error).
 */
export function batchErrors(stderr: string): { failed: Map<number, string>; aborted: string | null } {
  const failed = new Map<number, string>();
  let pending: string[] = [];
  for (const line of stderr.split("\n")) {
    const m = /^Command failed -:(\d+)$/.exec(line.trim());
    if (m) {
      failed.set(Number(m[1]), pending.join("; ") || "failed");
      pending = [];
    } else if (line.trim()) pending.push(line.trim());
  }
  return { failed, aborted: pending.length ? pending.join("; ") : null };
}
