// The difference between two archived configs as a unified diff, by diff(1): Debian's diffutils
// (an essential package, on every Debian machine) or busybox's in the lab image; both take -u
// and -L for the header names.
import { runTool } from "../base/tool";

export interface DiffSide {
  /** A file to compare; null: nothing (the first config ever applied is all additions). */
  path: string | null;
  /** The header line's name: "#3 sha256:… (converged …)". */
  label: string;
}

/** "" when both sides hold the same text. */
export async function unifiedDiff(before: DiffSide, after: DiffSide, diff = "diff"): Promise<string> {
  const r = await runTool({ purpose: "compare the configs", argv: [diff, "-u", "-L", before.label, "-L", after.label, before.path ?? "/dev/null", after.path ?? "/dev/null"] });
  // diff exits 0 for no difference, 1 for differences, 2 for trouble.
  if (r.exitCode > 1) throw new Error(`cannot compare the configs: diff: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
  return r.stdout;
}
