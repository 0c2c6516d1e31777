// The contract between the controller and the translation (fos1 objects → Cilium objects), and
// what the controller concludes per fos1 object from the translation and from applying its
// result. Pure.
import type { ConfigObject } from "../api/kinds";
import type { ApplyReport, Purpose } from "./cilium-client";
import type { Outcome, Verdict } from "./conditions";
import { refOf, type KubeObject } from "./kube-api";

export interface CiliumPiece {
  /** Which of the CiliumClient's jobs applies it. */
  purpose: Purpose;
  object: KubeObject;
  /** The fos1 objects ("Kind/name") it was translated from. */
  sources: string[];
}

export interface Translation {
  pieces: CiliumPiece[];
  /**
   * Every fos1 object the translation is about ("Kind/name"): ok, or refused and why. Objects
   * it leaves out (node-local kinds) get no status from the controller.
   */
  verdicts: Map<string, Verdict>;
}

export type Translator = (objects: ConfigObject[]) => Translation;

/** Outcomes when the set is invalid: nothing is translated or applied; Cilium keeps what it had. */
export function invalidOutcomes(generations: Map<string, number>, problems: Map<string, string[]>): Map<string, Outcome> {
  const culprits = [...problems.keys()].sort();
  const out = new Map<string, Outcome>();
  for (const [ref, generation] of generations) {
    const own = problems.get(ref);
    const translated: Verdict = own
      ? { ok: false, reason: "Invalid", message: own.join("; ") }
      : { ok: false, reason: "OtherObjectInvalid", message: `not translated while ${culprits.length === 1 ? "another object is" : `${culprits.length} other objects are`} invalid: ${culprits.slice(0, 5).join(", ")}${culprits.length > 5 ? ", …" : ""}` };
    out.set(ref, { generation, translated, applied: { ok: undefined, reason: "NotApplied", message: "Cilium keeps what was applied before this change" } });
  }
  return out;
}

/** Outcomes of a translation and the reports of applying it, for the objects it has verdicts on. */
export function outcomesOf(generations: Map<string, number>, translation: Translation, reports: ApplyReport[]): Map<string, Outcome> {
  const failed = new Map(reports.flatMap((r) => r.failed).map((f) => [f.ref, f.error]));
  const out = new Map<string, Outcome>();
  for (const [ref, verdict] of translation.verdicts) {
    const generation = generations.get(ref);
    if (generation === undefined) continue;
    if (!verdict.ok) {
      out.set(ref, { generation, translated: verdict, applied: { ok: false, reason: "NotTranslated", message: "nothing was applied for this object" } });
      continue;
    }
    const mine = translation.pieces.filter((p) => p.sources.includes(ref)).map((p) => refOf(p.object));
    const errors = mine.filter((r) => failed.has(r)).map((r) => `${r}: ${failed.get(r)}`);
    const applied: Verdict = errors.length
      ? { ok: false, reason: "ApplyFailed", message: errors.join("; ") }
      : { ok: true, reason: "Applied", message: mine.length ? `in force in Cilium as ${mine.join(", ")}` : "nothing for Cilium to do" };
    out.set(ref, { generation, translated: verdict, applied });
  }
  return out;
}
