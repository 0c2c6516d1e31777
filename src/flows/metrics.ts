// Prometheus counters of what Hubble saw, by fos1 zone pair, verdict and application, on a
// registry the caller owns (the agent's, served on its metrics port).
import { Counter, Gauge, type Registry } from "prom-client";
import type { FlowSummary } from "./summary";

export interface FlowMetrics {
  /** Counts one flow. */
  flow(summary: FlowSummary): void;
  /** Hubble reported flows it had to drop before fos1 could see them (its ring buffer overflowed, …). */
  lost(source: string, count: number): void;
  /** The flow stream is open (true), or it broke or could not be opened and is retried (false). */
  connected(up: boolean): void;
}

export function createFlowMetrics(registry: Registry): FlowMetrics {
  const registers = [registry];
  const flows = new Counter({
    name: "fos1_flows_total",
    help: "Flows Hubble observed, by source and destination zone (host = the router itself), verdict, L4 protocol and application (L7 protocol or service port name)",
    labelNames: ["zone_from", "zone_to", "verdict", "protocol", "application"] as const,
    registers,
  });
  const policyDrops = new Counter({
    name: "fos1_policy_drops_total",
    help: "Flows dropped by a network policy, by zone pair, protocol, application, Hubble drop reason and the policy that denied them (unknown when Hubble does not say)",
    labelNames: ["zone_from", "zone_to", "protocol", "application", "reason", "policy"] as const,
    registers,
  });
  const lost = new Counter({
    name: "fos1_hubble_lost_events_total",
    help: "Flow events Hubble lost before they reached fos1, by where they were lost; the flow counts are lower bounds while this grows",
    labelNames: ["source"] as const,
    registers,
  });
  const up = new Gauge({
    name: "fos1_hubble_connected",
    help: "1 while fos1's flow stream from Hubble is open, 0 while it is being reopened",
    registers,
  });
  const failures = new Counter({
    name: "fos1_hubble_stream_failures_total",
    help: "Times the flow stream from Hubble broke or could not be opened (each is retried with backoff)",
    registers,
  });
  return {
    flow(s) {
      const zones = { zone_from: s.source.zone, zone_to: s.destination.zone };
      const what = { protocol: s.protocol, application: s.application };
      flows.inc({ ...zones, verdict: s.verdict, ...what });
      if (s.policyDrop) policyDrops.inc({ ...zones, ...what, reason: s.dropReason!, policy: s.policies?.join(",") || "unknown" });
    },
    lost(source, count) {
      lost.inc({ source }, count);
    },
    connected(isUp) {
      up.set(isUp ? 1 : 0);
      if (!isUp) failures.inc();
    },
  };
}
