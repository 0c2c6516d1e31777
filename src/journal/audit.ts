// What an apply changed, as the journal's history keeps it for the audit trail: the counts and
// the operations themselves (what, for which object, the detail) without their kernel lines
// (the firewall's is the whole nft transaction). A change of thousands of operations keeps the
// first MAX_RECORDED_OPS and the number left out: the config diff still shows all of it.
import type { ApplyResult } from "../engine/apply";
import type { Op } from "../engine/op";

export const MAX_RECORDED_OPS = 200;

export interface OpRecord {
  action: Op["action"];
  subject: string;
  detail?: string;
  ref: string;
}

// A type, not an interface, so it is a Record<string, unknown> as the journal takes summaries.
export type ApplySummary = {
  writes: number;
  processes: number;
  failed: number;
  degraded: number;
  /** Operations applied, by action. */
  changes: Record<string, number>;
  ops: OpRecord[];
  /** Operations applied beyond MAX_RECORDED_OPS, not listed in ops. */
  opsOmitted?: number;
};

export function applySummary(r: ApplyResult): ApplySummary {
  const changes: Record<string, number> = {};
  for (const op of r.applied) changes[op.action] = (changes[op.action] ?? 0) + 1;
  const ops = r.applied.slice(0, MAX_RECORDED_OPS).map(({ action, subject, detail, ref }) => ({ action, subject, ...(detail ? { detail } : {}), ref }));
  const omitted = r.applied.length - ops.length;
  return { writes: r.writes, processes: r.processes, failed: r.failed.length, degraded: r.degraded.length, changes, ops, ...(omitted ? { opsOmitted: omitted } : {}) };
}
