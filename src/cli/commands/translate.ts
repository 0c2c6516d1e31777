// fos1 translate -f FILE: the Cilium resources the controller would apply for a config, offline.
// YAML (default: a comment per fos1 object saying what went where, then the objects, ready for
// kubectl apply) or JSON (objects, per-object status, policy-map counts). A config that cannot be
// translated faithfully prints nothing and exits 2 with the reasons.
import { stringify } from "yaml";
import type { Command } from "../command";
import { configFileOption, readConfig, requireValid } from "../config-input";
import { InvalidInputError, UsageError } from "../../base/errors";
import { DEFAULT_POLICY_MAP_MAX, translate as translateConfig, type TranslationResult } from "../../cilium/translate";

const USAGE = "fos1 translate -f FILE [-o yaml|json] [--policy-map-max N] [--namespace NS]";

export const translate: Command = {
  name: "translate",
  summary: "translate fos1 objects to Cilium resources (and the IDS config), offline",
  usage: USAGE,
  printsState: false,
  options: {
    ...configFileOption,
    output: { type: "string", short: "o" },
    "policy-map-max": { type: "string" },
    namespace: { type: "string" },
  },
  async run(ctx) {
    const format = ctx.values.output ?? "yaml";
    if (format !== "yaml" && format !== "json") throw new UsageError(`-o must be "yaml" or "json", not "${format}"\nusage: ${USAGE}`);
    const max = ctx.values["policy-map-max"];
    const policyMapMax = max === undefined ? DEFAULT_POLICY_MAP_MAX : Number(max);
    if (!Number.isInteger(policyMapMax) || policyMapMax < 1024 || policyMapMax > 65536)
      throw new UsageError(`--policy-map-max must be Cilium's bpf.policyMapMax, an integer from 1024 to 65536; got "${String(max)}"`);
    const input = await readConfig(ctx.values.file, USAGE);
    requireValid(input);
    const namespace = typeof ctx.values.namespace === "string" ? ctx.values.namespace : undefined;
    const result = translateConfig(
      input.objects.map((o) => o.value),
      { policyMapMax, ...(namespace ? { namespace } : {}) },
    );
    if (result.refused.length) {
      const lines = result.refused.map((r) => `  ${r.object}: ${r.reason}`);
      throw new InvalidInputError(`${input.file}: ${result.refused.length} object(s) cannot be translated for Cilium; nothing was generated:\n${lines.join("\n")}`);
    }
    ctx.stdout(format === "json" ? JSON.stringify({ objects: result.objects, status: result.status, policyMap: result.policyMap }, null, 2) + "\n" : translationYaml(input.file, result));
    return 0;
  },
};

/** The objects as a multi-document YAML stream for kubectl apply, after a comment per fos1 object saying what went where. */
export function translationYaml(file: string, r: TranslationResult): string {
  const head = [`# fos1 translate -f ${file}: ${r.objects.length} object(s); what went where:`];
  for (const s of r.status) {
    head.push(`# ${s.object} (${s.state})`);
    for (const p of s.placements) head.push(`#   ${p.target}: ${p.detail}${p.objects.length ? ` → ${p.objects.join(", ")}` : ""}`);
    for (const n of s.notes) head.push(`#   note: ${n}`);
  }
  const docs = r.objects.map((o) => stringify(o, { aliasDuplicateObjects: false, lineWidth: 0, blockQuote: "literal" }));
  return `${head.join("\n")}\n${docs.map((d) => `---\n${d}`).join("")}`;
}
