// Apply: the only place that writes to the kernel. Each phase of the plan is one
// `ip -force -batch -` process (-force: a failing line does not stop the rest, and iproute2
// names the failing line so it is pinned to its operation). Afterwards the host is observed
// again and planned against: what is still to do did not converge.
import { writeFileSync } from "node:fs";
import { DEFAULT_STATE_DIR } from "../base/state-dir";
import { explainToolError, runTool } from "../base/tool";
import { observeHost } from "./observe";
import { PHASES, plan, type Degraded, type Op } from "./plan";
import type { DesiredState, ObservedState } from "./model";
import { applyXdp } from "./xdp/apply";

export interface OpFailure {
  op: Op;
  error: string;
}

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

export interface ApplyOptions {
  ip?: string;
  /** Called before each phase runs; crash-safety tests use it to find a moment to kill. */
  onPhase?: (phase: string, ops: Op[]) => void;
  /** The state dir: where `fos1 xdp block` keeps its entries, which apply must leave (default /var/lib/fos1). */
  stateDir?: string;
  /**
   * The host as the caller has just observed it (observeFor), so a command that had to look
   * before deciding to apply (the lockout guard) does not read every link twice.
   */
  observed?: ObservedState;
}

export async function applyPlan(ops: Op[], opts: ApplyOptions = {}): Promise<{ failed: OpFailure[]; processes: number }> {
  const ip = opts.ip ?? "ip";
  const failed: OpFailure[] = [];
  let processes = 0;
  for (const phase of PHASES) {
    const inPhase = ops.filter((o) => o.phase === phase);
    if (!inPhase.length) continue;
    opts.onPhase?.(phase, inPhase);
    if (phase === "sysctl") {
      failed.push(...writeSysctls(inPhase));
      continue;
    }
    if (phase === "xdp") {
      failed.push(...applyXdp(inPhase));
      continue;
    }
    if (phase === "firewall") {
      processes++;
      failed.push(...(await loadFirewall(inPhase)));
      continue;
    }
    // One batch per phase; rules that carry no address to tell their family need `ip -6`.
    for (const v6 of [false, true]) {
      const batch = inPhase.filter((o) => Boolean(o.ipv6Only) === v6);
      if (!batch.length) continue;
      processes++;
      failed.push(...(await runBatch(ip, v6, batch)));
    }
  }
  return { failed, processes };
}

/** Sysctl ops carry "path=value"; they are files under /proc/sys, not ip commands. */
function writeSysctls(ops: Op[]): OpFailure[] {
  return ops.flatMap((op) => {
    const [key, value] = op.line.split("=") as [string, string];
    try {
      writeFileSync(`/proc/sys/${key}`, value);
      return [];
    } catch (err) {
      return [{ op, error: `cannot set ${key.replace(/\//g, ".")}: ${(err as Error).message}` }];
    }
  });
}

/** One `nft -j -f -` transaction: all of fos1's table or, if it fails, none of it. */
async function loadFirewall(ops: Op[]): Promise<OpFailure[]> {
  const failed: OpFailure[] = [];
  for (const op of ops) {
    const r = await runTool({ purpose: "load the firewall", argv: ["nft", "-j", "-f", "-"], stdin: op.line });
    if (r.exitCode !== 0) failed.push({ op, error: `nft refused the ruleset (the previous one stays in force): ${r.stderr.trim().split("\n").slice(0, 3).join("; ")}` });
  }
  return failed;
}

async function runBatch(ip: string, v6: boolean, batch: Op[]): Promise<OpFailure[]> {
  const argv = [ip, ...(v6 ? ["-6"] : []), "-force", "-batch", "-"];
  const r = await runTool({ purpose: "apply changes", argv, stdin: batch.map((o) => o.line).join("\n") + "\n" });
  if (r.exitCode === 0) return [];
  const { failed, aborted } = batchErrors(r.stderr);
  const out = [...failed].flatMap(([line, message]) => (batch[line - 1] ? [{ op: batch[line - 1]!, error: explainToolError("ip", message) }] : []));
  // An argument ip cannot resolve (e.g. "master br0" when br0 was not created) ends the whole
  // batch despite -force, without a line number: everything after the last numbered failure
  // is reported as not applied, with ip's reason.
  if (aborted) {
    const from = Math.max(0, ...failed.keys());
    for (const op of batch.slice(from)) out.push({ op, error: `not applied: ip stopped the batch at "${explainToolError("ip", aborted)}"` });
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

/** Everything plan() compares against `desired`. */
export function observeFor(desired: DesiredState, opts: ApplyOptions = {}): Promise<ObservedState> {
  return observeHost(opts.ip, undefined, { wanted: Boolean(desired.xdp?.filters.length), stateDir: opts.stateDir ?? DEFAULT_STATE_DIR });
}

/** Observe (unless the caller just did), plan, apply, and observe again to verify. */
export async function converge(desired: DesiredState, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const before = plan(desired, opts.observed ?? (await observeFor(desired, opts)));
  const { failed, processes } = before.ops.length ? await applyPlan(before.ops, opts) : { failed: [], processes: 0 };
  const after = before.ops.length ? plan(desired, await observeFor(desired, opts)) : before;
  return { writes: before.ops.length, applied: before.ops, processes, failed, degraded: after.degraded, unconverged: after.ops };
}
