// fos1 objects read from the cluster, turned back into the config objects the engine and the
// translation take, and checked exactly as `fos1 validate` checks a file: the API server only
// checks each object against its CRD's schema, never one object against another.
import { stringify } from "yaml";
import type { ConfigObject } from "../api/kinds";
import { loadConfigText } from "../api/load";
import { formatPath } from "../api/problems";
import { refOf, type KubeObject } from "./kube-api";

export interface CheckedObjects {
  objects: ConfigObject[];
  /** Problems by object ("Kind/name"), one line each; empty when the whole set is valid. */
  problems: Map<string, string[]>;
}

/** The object as the config file would declare it: no server-set metadata, no status. */
export function toConfigValue(o: KubeObject): Record<string, unknown> {
  const { name, labels, annotations } = o.metadata;
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: { name, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) },
    spec: o.spec ?? {},
  };
}

/**
 * Checks cluster objects as one config: the same loader as `fos1 validate` (schema and
 * cross-object checks), fed the objects as YAML so that both paths can never disagree.
 */
export function checkClusterObjects(items: KubeObject[]): CheckedObjects {
  const sorted = [...items].sort((a, b) => refOf(a).localeCompare(refOf(b)));
  const text = sorted.map((o) => stringify(toConfigValue(o), { lineWidth: 0 })).join("---\n");
  const { objects, problems } = loadConfigText(text, "cluster");
  const byObject = new Map<string, string[]>();
  for (const p of problems) {
    // Every problem of a loaded document names its object; the fallback covers a document the loader could not name.
    const ref = p.object ?? (sorted[p.document - 1] ? refOf(sorted[p.document - 1]!) : "?");
    const lines = byObject.get(ref) ?? [];
    lines.push(`${p.path.length ? `${formatPath(p.path)}: ` : ""}${p.message}`);
    byObject.set(ref, lines);
  }
  return { objects: objects.map((o) => o.value), problems: byObject };
}
