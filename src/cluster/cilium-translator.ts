// The translation (src/cilium/translate: fos1 objects → Cilium objects, pure) in the shape the
// controller works from: each generated object with the CiliumClient job that applies it, and
// per fos1 object its Translated verdict, placements and the objects that carry it.
import type { ConfigObject } from "../api/kinds";
import { OWNER_KIND_LABEL, translate, type ObjectStatus, type TranslationResult } from "../cilium/translate";
import type { Purpose } from "./cilium-client";
import type { Verdict } from "./conditions";
import type { KubeObject } from "./kube-api";
import type { SourceReport, Translation, Translator } from "./outcomes";

/** The job of a generated object, by the kind of fos1 object that owns it. */
const PURPOSE_OF_OWNER: Record<string, Purpose> = {
  FirewallZone: "network-policy",
  FirewallRule: "network-policy",
  VLANPolicy: "vlan-routing",
  NATPolicy: "nat",
  DPIProfile: "dpi",
};

function verdictOf(s: ObjectStatus): Verdict {
  const said = [...s.placements.map((p) => `${p.target}: ${p.detail}`), ...s.notes].join("; ");
  switch (s.state) {
    case "translated":
      return { ok: true, reason: "Translated", message: said };
    case "node-only":
      return { ok: true, reason: "NodeOnly", message: `only the node's nftables enforce it: ${said}` };
    case "disabled":
      return { ok: true, reason: "Disabled", message: "disabled: nothing is generated for it" };
    case "refused":
      return { ok: false, reason: "Refused", message: s.reason ?? "refused by the translation" };
  }
}

/** Pure: the translation's result as the controller's Translation. */
export function fromTranslationResult(result: TranslationResult): Translation {
  const sources = new Map<string, SourceReport>(
    result.status.map((s) => [s.object, { verdict: verdictOf(s), placements: s.placements, carriedBy: [...new Set(s.placements.flatMap((p) => p.objects))].sort() }]),
  );
  return {
    pieces: result.objects.map((o) => ({ purpose: PURPOSE_OF_OWNER[o.metadata.labels[OWNER_KIND_LABEL] ?? ""] ?? "network-policy", object: o as KubeObject })),
    sources,
    refused: result.refused.reduce((m, r) => m.set(r.object, m.has(r.object) ? `${m.get(r.object)}; ${r.reason}` : r.reason), new Map<string, string>()),
  };
}

/** The translator for a controller whose namespace holds the IDS ConfigMaps. */
export function ciliumTranslator(namespace: string): Translator {
  return (objects, context) => fromTranslationResult(translate(objects, { namespace, managementNetworks: context.managementNetworks }));
}
