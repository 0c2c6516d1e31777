// What the controller works from (a translation of the whole set, in the shape the controller
// needs: cilium-translator.ts makes it from src/cilium/translate) and what it concludes per fos1
// object from that translation and from applying it. Pure.
import type { ConfigObject } from "../api/kinds";
import type { ApplyReport, Purpose } from "./cilium-client";
import type { Outcome, Verdict } from "./conditions";
import type { KubeObject } from "./kube-api";

export interface CiliumPiece {
  /** Which of the CiliumClient's jobs applies it. */
  purpose: Purpose;
  object: KubeObject;
}

export interface SourceReport {
  /** The Translated condition. */
  verdict: Verdict;
  /** Which part of the object is enforced where, as status.placements shows it. */
  placements: unknown[];
  /** The generated objects ("Kind/name") that carry it. */
  carriedBy: string[];
}

export interface Translation {
  pieces: CiliumPiece[];
  /** Every fos1 object the translation is about ("Kind/name"); node-local kinds are not. */
  sources: Map<string, SourceReport>;
  /** Objects refused, with why. When there is any, nothing may be applied: a partial result could allow more than the config does. */
  refused: Map<string, string>;
}

/** What the translation takes from the cluster beyond fos1's objects. */
export interface TranslationContext {
  /** The router nodes' boot-config management networks (their annotation), sorted. */
  managementNetworks: string[];
}

export type Translator = (objects: ConfigObject[], context: TranslationContext) => Translation;

const KEEPS: Verdict = { ok: undefined, reason: "NotApplied", message: "Cilium keeps what was applied before this change" };

function listSome(refs: string[], max = 5): string {
  return `${refs.slice(0, max).join(", ")}${refs.length > max ? `, and ${refs.length - max} more` : ""}`;
}

/**
 * Outcomes when nothing may be applied — the set is invalid, or the translation refused part of
 * it: the culprits say why, every other object which of them holds it back.
 */
export function blockedOutcomes(generations: Map<string, number>, culprits: Map<string, string>, why: { own: string; other: string }): Map<string, Outcome> {
  const names = [...culprits.keys()].sort();
  const out = new Map<string, Outcome>();
  for (const [ref, generation] of generations) {
    const own = culprits.get(ref);
    const translated: Verdict = own
      ? { ok: false, reason: why.own, message: own }
      : { ok: false, reason: why.other, message: `held back while ${names.length === 1 ? "another object is" : `${names.length} other objects are`} ${why.own.toLowerCase()}: ${listSome(names)}` };
    out.set(ref, { generation, translated, applied: KEEPS });
  }
  return out;
}

/** Outcomes of a translation and of applying it, for the objects it reports on. */
export function outcomesOf(generations: Map<string, number>, translation: Translation, reports: ApplyReport[]): Map<string, Outcome> {
  const failed = new Map(reports.flatMap((r) => r.failed).map((f) => [f.ref, f.error]));
  const out = new Map<string, Outcome>();
  for (const [ref, report] of translation.sources) {
    const generation = generations.get(ref);
    if (generation === undefined) continue;
    const errors = report.carriedBy.filter((r) => failed.has(r)).map((r) => `${r}: ${failed.get(r)}`);
    const applied: Verdict = errors.length
      ? { ok: false, reason: "ApplyFailed", message: errors.join("; ") }
      : { ok: true, reason: "Applied", message: report.carriedBy.length ? `in force as ${listSome(report.carriedBy, 10)}` : "nothing for Cilium to hold" };
    out.set(ref, { generation, translated: report.verdict, applied, placements: report.placements });
  }
  return out;
}
