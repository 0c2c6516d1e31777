// Prometheus metrics of the IDS reader, on a registry the caller owns (`fos1 ids run --listen`
// serves its own; the agent would pass its registry). Label values come from fixed lists, so a
// hostile EVE stream cannot grow the number of series.
import { Counter, Gauge, type Registry } from "prom-client";
import { ALLOW_CLASSES, type AllowClass } from "./allowlist";
import { MALFORMED_REASONS, type MalformedReason } from "./eve";
import { SKIP_REASONS, type SkipReason } from "./policy";

/** Severities 1–4 are Suricata's classtype priorities; a rule's own `priority` may go to 255. */
const SEVERITY_LABELS = ["1", "2", "3", "4", "5+"] as const;
export const severityLabel = (severity: number) => (severity >= 5 ? "5+" : String(severity));

export interface IdsMetrics {
  line(): void;
  malformed(reason: MalformedReason): void;
  alert(severity: number): void;
  skipped(reason: SkipReason): void;
  allowlisted(cls: AllowClass): void;
  evicted(): void;
  allowlist(counts: Record<AllowClass, number>): void;
  blocked(sink: string, count: number): void;
  blockFailed(sink: string, count: number): void;
  blocks(active: number, pending: number, rateAggregates: number): void;
  sourceUp(up: boolean): void;
}

export function createIdsMetrics(registry: Registry, sinks: string[]): IdsMetrics {
  const registers = [registry];
  const lines = new Counter({ name: "fos1_ids_eve_lines_total", help: "Lines read from Suricata's EVE log (every event type, malformed ones included)", registers });
  const malformed = new Counter({ name: "fos1_ids_eve_malformed_lines_total", help: "EVE lines skipped because they are not EVE records: overlong (over the line bound), json (not JSON), not_object, no_event_type, bad_alert (an alert without a valid severity, rule id or source address)", labelNames: ["reason"] as const, registers });
  const alerts = new Counter({ name: "fos1_ids_alerts_total", help: "Suricata alerts read, by severity (1 is the highest)", labelNames: ["severity"] as const, registers });
  const skipped = new Counter({ name: "fos1_ids_alerts_skipped_total", help: "Alerts that did not become a block: below_severity, allowlisted (by class in fos1_ids_alerts_allowlisted_total), category (an alert category that does not block: its source may be forged), duplicate (the source is already blocked or about to be), rate_aggregate and rate_total (the rate of new blocks per /24 or /48, and in all), pending_full and blocks_full (the bounds on waiting and active blocks)", labelNames: ["reason"] as const, registers });
  const allowlisted = new Counter({ name: "fos1_ids_alerts_allowlisted_total", help: "Alerts whose source is never blocked, by class: not_a_host, link_local, management, router, gateway and dhcp_server (the uplinks' leases), next_hop (fos1's routes), dns (configured and leased resolvers), cluster_node, operator (--allow)", labelNames: ["class"] as const, registers });
  const allowEntries = new Gauge({ name: "fos1_ids_allowlist_entries", help: "Networks in the allowlist, by class, as last read from the config and the host", labelNames: ["class"] as const, registers });
  const evicted = new Counter({ name: "fos1_ids_blocks_evicted_total", help: "IDS blocks taken off before their TTL ran out to make room for new ones (--max-blocks)", registers });
  const aggregates = new Gauge({ name: "fos1_ids_rate_aggregates", help: "Networks (/24, /48) the rate of new blocks is counted for in the current window", registers });
  const blocks = new Counter({ name: "fos1_ids_blocks_total", help: "Sources blocked because of an alert, by where the block was written (xdp: the XDP filters' dynamic blocklist; cilium: the cluster's deny policy)", labelNames: ["sink"] as const, registers });
  const failures = new Counter({ name: "fos1_ids_block_failures_total", help: "Blocks that could not be written, by sink (no XDP filter loaded, the API server unreachable, a batch larger than the whole cluster policy)", labelNames: ["sink"] as const, registers });
  const active = new Gauge({ name: "fos1_ids_blocks_active", help: "Sources blocked by the IDS whose TTL has not run out", registers });
  const pending = new Gauge({ name: "fos1_ids_blocks_pending", help: "Sources waiting for the next batch of block writes", registers });
  const up = new Gauge({ name: "fos1_ids_eve_source_up", help: "1 while the EVE source is open (the file is being read, or the socket listens)", registers });
  for (const reason of MALFORMED_REASONS) malformed.inc({ reason }, 0);
  for (const severity of SEVERITY_LABELS) alerts.inc({ severity }, 0);
  for (const reason of SKIP_REASONS) skipped.inc({ reason }, 0);
  for (const cls of ALLOW_CLASSES) allowlisted.inc({ class: cls }, 0);
  for (const sink of sinks) {
    blocks.inc({ sink }, 0);
    failures.inc({ sink }, 0);
  }
  return {
    line: () => lines.inc(),
    malformed: (reason) => malformed.inc({ reason }),
    alert: (severity) => alerts.inc({ severity: severityLabel(severity) }),
    skipped: (reason) => skipped.inc({ reason }),
    allowlisted: (cls) => allowlisted.inc({ class: cls }),
    evicted: () => evicted.inc(),
    allowlist: (counts) => {
      for (const cls of ALLOW_CLASSES) allowEntries.set({ class: cls }, counts[cls]);
    },
    blocked: (sink, count) => blocks.inc({ sink }, count),
    blockFailed: (sink, count) => failures.inc({ sink }, count),
    blocks: (a, p, r) => {
      active.set(a);
      pending.set(p);
      aggregates.set(r);
    },
    sourceUp: (u) => up.set(u ? 1 : 0),
  };
}
