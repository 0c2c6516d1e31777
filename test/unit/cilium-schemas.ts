// Cilium's published CRD schemas (schemas/cilium/, one JSON Schema per kind) as ajv
// validators, so every object fos1 generates for Cilium is checked the way the API server with
// Cilium's CRDs installed would check it. Cilium's patterns are Go RE2; the one that JavaScript
// reads differently (`\PC`) is rewritten; formats (cidr, int32, …) are not checked here.
import Ajv, { type ValidateFunction } from "ajv";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const SCHEMAS = join(import.meta.dir, "..", "..", "schemas", "cilium");
const FILES: Record<string, string> = {
  CiliumClusterwideNetworkPolicy: "ciliumclusterwidenetworkpolicy_v2.json",
  CiliumNetworkPolicy: "ciliumnetworkpolicy_v2.json",
  CiliumEgressGatewayPolicy: "ciliumegressgatewaypolicy_v2.json",
  CiliumCIDRGroup: "ciliumcidrgroup_v2alpha1.json",
};

const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
const cache = new Map<string, ValidateFunction>();

function validator(kind: string): ValidateFunction {
  const file = FILES[kind];
  if (!file) throw new Error(`no Cilium schema for kind ${kind}`);
  let v = cache.get(kind);
  if (!v) {
    const text = readFileSync(join(SCHEMAS, file), "utf8").replaceAll("\\\\PC", "\\\\P{C}");
    v = ajv.compile(JSON.parse(text));
    cache.set(kind, v);
  }
  return v;
}

/** The schema problems of one Cilium object ("" when it is valid). */
export function ciliumSchemaErrors(obj: { kind: string; metadata: { name: string } }): string {
  const validate = validator(obj.kind);
  const name = `${obj.kind}/${obj.metadata.name}`;
  return validate(obj) ? "" : `${name}: ${ajv.errorsText(validate.errors, { separator: "; " })}`;
}

export const isCiliumKind = (kind: string) => kind in FILES;
