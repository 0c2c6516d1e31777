// What fos1 asks Hubble for, as a GetFlowsRequest: follow, verdicts (filtered by Hubble itself),
// and how far back (the last N flows, or since a time). Pure.
import type { GetFlowsRequest, Timestamp } from "./types";

/** flow.Verdict values an operator can ask for, in fos1's spelling (lower case). */
export const VERDICTS = ["forwarded", "dropped", "error", "audit", "redirected", "traced", "translated"] as const;
export type Verdict = (typeof VERDICTS)[number];

/** What `hubble observe` prints when neither --follow, --since nor --last says otherwise. */
export const DEFAULT_LAST = 20;

export interface FlowQuery {
  follow: boolean;
  /** Empty: every verdict. */
  verdicts: Verdict[];
  since?: Date;
  last?: number;
}

export function isVerdict(text: string): text is Verdict {
  return (VERDICTS as readonly string[]).includes(text);
}

export function flowsRequest(q: FlowQuery): GetFlowsRequest {
  const request: GetFlowsRequest = { follow: q.follow };
  // Hubble treats number and since as alternatives: a start time wins over a count.
  if (q.since) request.since = timestampOf(q.since);
  else {
    const last = q.last ?? (q.follow ? undefined : DEFAULT_LAST);
    if (last !== undefined) request.number = String(last);
  }
  if (q.verdicts.length) request.whitelist = [{ verdict: q.verdicts.map((v) => v.toUpperCase()) }];
  return request;
}

export function timestampOf(date: Date): Timestamp {
  const ms = date.getTime();
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

/** Nanoseconds since the epoch: exact, for ordering and comparing flows. */
export function nanosOf(ts: Timestamp | undefined): bigint {
  return ts ? BigInt(ts.seconds) * 1_000_000_000n + BigInt(ts.nanos ?? 0) : 0n;
}

/** RFC 3339 with nanoseconds when the timestamp has them (Hubble's precision). */
export function formatTimestamp(ts: Timestamp | undefined): string {
  if (!ts) return "-";
  const iso = new Date(Number(ts.seconds) * 1000).toISOString();
  return `${iso.slice(0, 19)}.${String(ts.nanos ?? 0).padStart(9, "0")}Z`;
}
