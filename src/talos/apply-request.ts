// What `fos1 talos apply-config` sends: the machine config's bytes as read (Talos validates the
// content itself), checked first for what would certainly be refused — YAML that does not parse,
// a document that is not a Talos one — and the apply mode, with TRY's timeout.
import { LineCounter, parseAllDocuments } from "yaml";
import { parseDuration } from "../base/duration";
import { yamlErrorText } from "./yaml-error";
import type { ApplyConfigurationRequest, ApplyMode } from "./types";

export const APPLY_MODES: Record<string, ApplyMode> = { auto: "AUTO", "no-reboot": "NO_REBOOT", reboot: "REBOOT", staged: "STAGED", try: "TRY" };

/** talosctl's default for --mode try without a timeout. */
export const DEFAULT_TRY_TIMEOUT_MS = 60_000;

export class ApplyRequestError extends Error {}

export interface ApplyFlags {
  mode?: string;
  /** --try DURATION: mode TRY, reverted by Talos after DURATION unless applied again. */
  tryTimeout?: string;
  dryRun: boolean;
}

export function applyRequest(data: Uint8Array, flags: ApplyFlags): ApplyConfigurationRequest {
  const modeName = flags.mode ?? (flags.tryTimeout !== undefined ? "try" : "auto");
  const mode = APPLY_MODES[modeName];
  if (!mode) throw new ApplyRequestError(`--mode must be one of ${Object.keys(APPLY_MODES).join(", ")}; got "${modeName}"`);
  if (flags.tryTimeout !== undefined && mode !== "TRY") throw new ApplyRequestError(`--try goes with mode try, not --mode ${modeName}`);
  const request: ApplyConfigurationRequest = { data, mode, dry_run: flags.dryRun };
  if (mode !== "TRY") return request;
  const ms = flags.tryTimeout === undefined ? DEFAULT_TRY_TIMEOUT_MS : parseDuration(flags.tryTimeout);
  if (ms === null) throw new ApplyRequestError(`--try takes a duration like 90s, 5m or 1h; got "${flags.tryTimeout}"`);
  return { ...request, try_mode_timeout: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 } };
}

/**
 * Problems that make the file certainly not a Talos machine config, one line each with
 * file:line:col: YAML errors, documents that are not mappings, documents of another API (Talos's
 * are `version: v1alpha1` or `apiVersion: v1alpha1` with a kind), no v1alpha1 document.
 */
export function machineConfigProblems(text: string, file: string): string[] {
  const lineCounter = new LineCounter();
  const at = (offset: number | undefined) => {
    const pos = lineCounter.linePos(offset ?? 0);
    return `${file}:${pos.line}:${pos.col}`;
  };
  const problems: string[] = [];
  let hasV1alpha1 = false;
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true });
  if (!Array.isArray(docs)) return [`${file}: not a YAML stream`];
  docs.forEach((doc, i) => {
    const which = `document ${i + 1}`;
    // The first YAML error of a document; the ones after it mostly follow from it.
    const err = doc.errors[0];
    if (err) return void problems.push(`${at(err.pos[0])}: ${which}: YAML: ${yamlErrorText(err)}`);
    if (doc.contents === null) return;
    const value = doc.toJS() as unknown;
    const start = doc.contents.range?.[0];
    if (!value || typeof value !== "object" || Array.isArray(value)) return void problems.push(`${at(start)}: ${which}: a machine config document is a mapping`);
    const { version, apiVersion, kind } = value as Record<string, unknown>;
    if (version === "v1alpha1") {
      hasV1alpha1 = true;
      return;
    }
    if (apiVersion === "v1alpha1" && typeof kind === "string") return;
    const found = typeof apiVersion === "string" && apiVersion.endsWith(".fos1.io/v1alpha1") ? ` (${apiVersion} ${String(kind)} is a fos1 object: fos1 apply -f takes those)` : "";
    problems.push(`${at(start)}: ${which}: not a Talos machine config document: expected version: v1alpha1, or apiVersion: v1alpha1 with a kind${found}`);
  });
  // Talos refuses a config without it (outside maintenance mode): a machine config is whole.
  if (!problems.length && !hasV1alpha1)
    problems.push(`${file}: no v1alpha1 document (version: v1alpha1, with machine and cluster): Talos takes a whole machine config, not a patch or a single document`);
  return problems;
}
