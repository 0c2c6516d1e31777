// Status conditions of fos1's objects in the cluster, by the Kubernetes API conventions: type,
// status, reason (CamelCase), message, observedGeneration, and lastTransitionTime, which moves
// only when status does. Pure: the controller decides what happened, this words it.

export type ConditionType = "Translated" | "Applied" | "Ready";
export type ConditionStatus = "True" | "False" | "Unknown";

export interface Condition {
  type: ConditionType;
  status: ConditionStatus;
  reason: string;
  message: string;
  observedGeneration: number;
  lastTransitionTime: string;
}

export interface Verdict {
  ok: boolean | undefined;
  reason: string;
  message: string;
}

/** What the controller concluded about one object at one generation. */
export interface Outcome {
  generation: number;
  translated: Verdict;
  applied: Verdict;
  /** status.placements: which part of the object is enforced where (absent: leave as it is). */
  placements?: unknown[];
}

/** The three conditions for an outcome; unchanged conditions keep their lastTransitionTime. */
export function conditionsFor(outcome: Outcome, previous: readonly Condition[] | undefined, now: Date): Condition[] {
  const { translated, applied } = outcome;
  const ready: Verdict =
    translated.ok && applied.ok
      ? { ok: true, reason: "Ready", message: "translated and applied to Cilium" }
      : translated.ok === false
        ? { ok: false, reason: translated.reason, message: translated.message }
        : applied.ok === false
          ? { ok: false, reason: applied.reason, message: applied.message }
          : { ok: undefined, reason: "InProgress", message: "not yet applied" };
  const at = now.toISOString().replace(/\.\d{3}Z$/, "Z");
  return (
    [
      ["Translated", translated],
      ["Applied", applied],
      ["Ready", ready],
    ] as const
  ).map(([type, v]) => {
    const status: ConditionStatus = v.ok === undefined ? "Unknown" : v.ok ? "True" : "False";
    const before = previous?.find((c) => c.type === type);
    return {
      type,
      status,
      reason: v.reason,
      message: v.message,
      observedGeneration: outcome.generation,
      lastTransitionTime: before && before.status === status ? before.lastTransitionTime : at,
    };
  });
}

/** True when two condition lists say the same thing (ignoring lastTransitionTime). */
export function sameConditions(a: readonly Condition[] | undefined, b: readonly Condition[]): boolean {
  if (!a || a.length !== b.length) return false;
  return b.every((c) => {
    const o = a.find((x) => x.type === c.type);
    return o !== undefined && o.status === c.status && o.reason === c.reason && o.message === c.message && o.observedGeneration === c.observedGeneration;
  });
}
