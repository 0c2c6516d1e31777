// Plans for people, the way Terraform shows them: + add, ~ change, - remove, -/+ replace,
// one line per operation, and a count line.
import type { Degraded, Op, Plan } from "../engine/op";
import { table } from "./output";

const SIGN: Record<Op["action"], string> = { add: "+", change: "~", remove: "-", replace: "-/+" };

/** Rows of planned or applied operations (also those the journal's history recorded). */
export function opRows(ops: { action: Op["action"]; subject: string; detail?: string; ref: string }[]): string[][] {
  return ops.map((o) => [SIGN[o.action], o.subject, o.detail ?? "", o.ref]);
}

export function countLine(ops: Op[]): string {
  const subjects = (action: Op["action"]) => new Set(ops.filter((o) => o.action === action).map((o) => o.subject)).size;
  return `${subjects("add")} to add, ${subjects("change")} to change, ${subjects("remove")} to remove, ${subjects("replace")} to replace.`;
}

export function degradedText(degraded: Degraded[]): string {
  if (!degraded.length) return "";
  return `\nDegraded (skipped; the rest applies):\n${degraded.map((d) => `  ${d.ref}: ${d.subject}: ${d.reason}`).join("\n")}\n`;
}

export function planText(p: Plan): string {
  const body = p.ops.length ? table(["", "WHAT", "DETAIL", "FOR"], opRows(p.ops)) : "No changes: the host matches the config.\n";
  return body + (p.ops.length ? `\nPlan: ${countLine(p.ops)}\n` : "") + degradedText(p.degraded);
}
