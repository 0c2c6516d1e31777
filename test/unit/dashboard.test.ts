// The Grafana dashboard in deploy/grafana/ may only ask for metrics fos1 really exports: every
// metric name in its queries (panel targets and template variables) must be registered by the
// agent's /metrics registry as `fos1 agent` builds it, by the flow counters of Hubble's feed
// (src/flows/metrics.ts), or by the controller's (`fos1 controller`'s /metrics).
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Registry as PromRegistry } from "prom-client";
import { agentMetrics } from "../../src/cli/commands/agent";
import { ControllerMetrics } from "../../src/cluster/controller-metrics";
import { createFlowMetrics } from "../../src/flows/metrics";
import { Logger } from "../../src/base/log";

const DASHBOARD = join(import.meta.dir, "../../deploy/grafana/fos1.json");

// PromQL words that are not metric names: keywords, and the label lists of grouping clauses.
const KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "inf", "nan"]);

/** The metric names a PromQL expression selects (or that label_values() reads), in order. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values
    .replace(/\{[^}]*\}/g, "") // label matchers
    .replace(/\[[^\]]*\]/g, "") // range durations
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "$1") // grouping label lists
    .replace(/\$\{?\w+\}?/g, ""); // dashboard variables ($__rate_interval, ${instance})
  const names: string[] = [];
  for (const m of stripped.matchAll(/(?<![\w.:])[a-zA-Z_:][\w:]*/g)) {
    const word = m[0];
    const next = stripped.slice(m.index! + word.length).trimStart();
    // A function, an aggregation ("sum by (le) (…)" reads "sum by (…" here) or a keyword.
    if (next.startsWith("(") || /^(by|without)\b/.test(next) || KEYWORDS.has(word.toLowerCase())) continue;
    names.push(word);
  }
  return names;
}

/** Every query of a dashboard: panel targets (rows nest panels) and query variables. */
function queries(dashboard: { panels?: Panel[]; templating?: { list: { type: string; query?: unknown }[] } }): string[] {
  const out: string[] = [];
  const walk = (ps: Panel[]) => {
    for (const p of ps) {
      for (const t of p.targets ?? []) out.push(t.expr);
      walk(p.panels ?? []);
    }
  };
  walk(dashboard.panels ?? []);
  for (const v of dashboard.templating?.list ?? []) {
    if (v.type !== "query") continue;
    const q = typeof v.query === "string" ? v.query : (v.query as { query: string }).query;
    // label_values(SELECTOR, LABEL): the selector is PromQL, the label is not a metric.
    out.push(/^label_values\((.*),\s*\w+\)$/.exec(q)?.[1] ?? q);
  }
  return out;
}

interface Panel {
  title?: string;
  type: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

/** The sample names a registry exposes: histograms as their _bucket, _sum and _count series too. */
async function exported(...registries: PromRegistry[]): Promise<Set<string>> {
  const names = new Set<string>();
  for (const { name, type } of (await Promise.all(registries.map((r) => r.getMetricsAsJSON()))).flat()) {
    names.add(name);
    // prom-client's typings say an enum; at run time type is the exposition's word.
    if (["histogram", "summary"].includes(String(type))) for (const s of ["_bucket", "_sum", "_count"]) names.add(name + s);
  }
  return names;
}

const unknownIn = (exprs: string[], known: Set<string>) => [...new Set(exprs.flatMap(metricNames))].filter((n) => !known.has(n));

describe("the Grafana dashboard", () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8"));
  const exprs = queries(dashboard);
  const registries = () => {
    const flows = new PromRegistry();
    createFlowMetrics(flows);
    return [agentMetrics(() => true, "/nonexistent/fos1-state", new Logger({ write: () => {}, isTTY: false }, "error")).registry, flows, new ControllerMetrics().registry];
  };

  test("every query names only metrics the agent's or the controller's /metrics registers", async () => {
    const known = await exported(...registries());
    expect(exprs.length).toBeGreaterThan(20);
    expect(unknownIn(exprs, known)).toEqual([]);
  });

  test("every panel that shows data has a query, and every query selects a fos1 metric", () => {
    const walk = (ps: Panel[]): Panel[] => ps.flatMap((p) => [p, ...walk(p.panels ?? [])]);
    const empty = walk(dashboard.panels).filter((p) => p.type !== "row" && !p.targets?.length).map((p) => p.title);
    expect(empty).toEqual([]);
    expect(exprs.filter((e) => !metricNames(e).some((n) => n.startsWith("fos1_")))).toEqual([]);
  });

  test("the controller's row shows every metric the controller exports, and only those", async () => {
    const panels: Panel[] = dashboard.panels;
    const row = panels.findIndex((p) => p.type === "row" && p.title === "Controller (cluster)");
    expect(row).toBeGreaterThanOrEqual(0);
    const next = panels.findIndex((p, i) => i > row && p.type === "row");
    const shown = new Set(panels.slice(row + 1, next < 0 ? undefined : next).flatMap((p) => (p.targets ?? []).flatMap((t) => metricNames(t.expr))));
    const controller = await exported(new ControllerMetrics().registry);
    expect([...shown].filter((n) => !controller.has(n))).toEqual([]);
    const family = (n: string) => n.replace(/_(bucket|sum|count)$/, "");
    const shownFamilies = new Set([...shown].map(family));
    expect((await new ControllerMetrics().registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => !shownFamilies.has(n))).toEqual([]);
  });

  test("the check finds a misspelt or made-up metric, and reads PromQL's grouping and matchers correctly", async () => {
    const known = await exported(...registries());
    expect(unknownIn(['sum by (device) (rate(fos1_interface_recieve_bytes_total{device="eth0"}[5m]))', "fos1_ready"], known)).toEqual(["fos1_interface_recieve_bytes_total"]);
    expect(metricNames('histogram_quantile(0.95, sum by (le) (rate(fos1_converge_duration_seconds_bucket{instance=~"$instance"}[$__rate_interval])))')).toEqual(["fos1_converge_duration_seconds_bucket"]);
    expect(metricNames("a * on (instance, device) group_left (vlan) b offset 5m")).toEqual(["a", "b"]);
    expect(queries({ templating: { list: [{ type: "query", query: { query: 'label_values(fos1_interface_up{instance=~"$instance"}, device)' } }] } })).toEqual(['fos1_interface_up{instance=~"$instance"}']);
  });
});
