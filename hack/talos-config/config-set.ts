// A Talos machine-config set as a list of documents, and the patching make talos-config does.
// Pure: the same inputs always give the same documents.
import { parseAllDocuments, stringify } from "yaml";

export type Doc = Record<string, unknown>;

/** Parses a YAML stream into its documents (empty ones, like a trailing ---, are dropped). */
export function parseStream(text: string, file: string): Doc[] {
  return parseAllDocuments(text).flatMap((d, i) => {
    if (d.errors.length > 0) throw new Error(`${file}: document ${i + 1}: ${d.errors[0]?.message.split("\n")[0]}`);
    const v = d.toJS() as unknown;
    if (v === null || v === undefined) return [];
    if (!isMapping(v)) throw new Error(`${file}: document ${i + 1} is not a mapping`);
    return [v];
  });
}

export function toStream(docs: Doc[]): string {
  return docs.map((d) => stringify(d, { lineWidth: 0 })).join("---\n");
}

/** "kind/name" of a new-style document, "v1alpha1" for the legacy one (it has no kind). */
export function docKey(doc: Doc): string {
  return doc.kind === undefined ? "v1alpha1" : `${String(doc.kind)}/${String(doc.name ?? "")}`;
}

/** Lists Talos replaces whole instead of appending (merge:"replace" in its v1alpha1 types) that these patches set. */
const REPLACED_LISTS = new Set(["cluster.network.podSubnets", "cluster.network.serviceSubnets"]);

/**
 * Talos's strategic merge as these patches use it: mappings merge key by key, lists are
 * appended (except REPLACED_LISTS), anything else is replaced by the patch.
 */
export function merge(base: unknown, patch: unknown, path = ""): unknown {
  if (isMapping(base) && isMapping(patch)) {
    const out: Doc = { ...base };
    for (const [k, v] of Object.entries(patch)) {
      const at = path === "" ? k : `${path}.${k}`;
      out[k] = k in base && !REPLACED_LISTS.has(at) ? merge(base[k], v, at) : v;
    }
    return out;
  }
  if (Array.isArray(base) && Array.isArray(patch)) return [...base, ...patch];
  return patch;
}

/**
 * Patches a config set: a patch document merges into the document of the same kind and name
 * (the v1alpha1 one for a legacy patch), or joins the set when there is none. Order is kept:
 * the set's documents first, new ones in the order of the patches.
 */
export function applyPatches(config: Doc[], patches: Doc[]): Doc[] {
  const out = [...config];
  for (const p of patches) {
    const i = out.findIndex((d) => docKey(d) === docKey(p));
    if (i >= 0) out[i] = merge(out[i], p) as Doc;
    else out.push(p);
  }
  return out;
}

/** The ExtensionServiceConfig that hands fos1 its config file where the service spec reads it. */
export function extensionServiceConfig(service: string, mountPath: string, fos1Config: string): Doc {
  return { apiVersion: "v1alpha1", kind: "ExtensionServiceConfig", name: service, configFiles: [{ content: fos1Config, mountPath }] };
}

/** The service spec's name and the file its `fos1 agent` reads (the argument after --file or -f). */
export function agentConfigPath(spec: unknown): { service: string; configPath: string } {
  const s = spec as { name?: unknown; container?: { args?: unknown } } | null;
  const args = Array.isArray(s?.container?.args) ? (s.container.args as unknown[]) : [];
  const i = args.findIndex((a) => a === "--file" || a === "-f");
  const configPath = args[i + 1];
  if (typeof s?.name !== "string" || i < 0 || typeof configPath !== "string") throw new Error("the extension's service spec must name the service and pass fos1 agent --file PATH");
  return { service: s.name, configPath };
}

function isMapping(v: unknown): v is Doc {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
