// Checks a document against its kind's JSON Schema (ajv's validators, generated at build
// time: validators-source.ts, all errors) and words each error the way an operator reads it:
// what is wrong, what is allowed, what was given.
import type { ErrorObject, ValidateFunction } from "ajv";
import * as generated from "./generated/validators";
import type { FieldPath } from "./problems";

const validators = generated as unknown as Record<string, ValidateFunction>;

export interface SchemaError {
  path: FieldPath;
  /** Point at the key rather than the value (unknown fields). */
  atKey: boolean;
  message: string;
}

export function checkSchema(kind: string, value: unknown): SchemaError[] {
  const validate = validators[kind];
  if (!validate) throw new Error(`no validator generated for kind ${kind}: run make generate`);
  if (validate(value)) return [];
  return explain(validate.errors ?? [], value);
}

function explain(errors: ErrorObject[], value: unknown): SchemaError[] {
  // A union ("a table id or main") fails once per branch: report it once, in its own words.
  const unionPaths = new Set(errors.filter((e) => e.keyword === "anyOf" || e.keyword === "oneOf").map((e) => e.instancePath));
  const out: SchemaError[] = [];
  for (const e of errors) {
    if (unionPaths.has(e.instancePath) && e.keyword !== "anyOf" && e.keyword !== "oneOf") continue;
    const path = e.instancePath.split("/").slice(1).map(unescape);
    const given = describeValue(valueAt(value, path));
    const p = e.params as Record<string, unknown>;
    const description = (e.parentSchema as { description?: string } | undefined)?.description;
    switch (e.keyword) {
      case "required":
        out.push({ path, atKey: false, message: `missing required field "${p.missingProperty}"` });
        break;
      case "additionalProperties": {
        const allowed = Object.keys((e.parentSchema as { properties?: object }).properties ?? {});
        out.push({ path: [...path, String(p.additionalProperty)], atKey: true, message: `unknown field "${p.additionalProperty}"; allowed here: ${allowed.join(", ")}` });
        break;
      }
      case "enum":
        out.push({ path, atKey: false, message: `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}; got ${given}` });
        break;
      case "const":
        out.push({ path, atKey: false, message: `must be ${JSON.stringify(p.allowedValue)}; got ${given}` });
        break;
      case "type":
        out.push({ path, atKey: false, message: `must be ${article(String(p.type))}; got ${given}` });
        break;
      case "minimum":
      case "maximum":
      case "exclusiveMinimum":
      case "exclusiveMaximum":
        out.push({ path, atKey: false, message: `must be ${p.comparison} ${p.limit}; got ${given}` });
        break;
      case "pattern":
      case "format":
      case "anyOf":
      case "oneOf":
        out.push({ path, atKey: false, message: `must be ${description ?? (e.message ?? "valid")}; got ${given}` });
        break;
      case "minItems":
        out.push({ path, atKey: false, message: `needs at least ${p.limit} item${p.limit === 1 ? "" : "s"}` });
        break;
      default:
        out.push({ path, atKey: false, message: `${e.message ?? "is not valid"}; got ${given}` });
    }
  }
  return out;
}

const unescape = (seg: string): string | number => (/^\d+$/.test(seg) ? Number(seg) : seg.replace(/~1/g, "/").replace(/~0/g, "~"));

function valueAt(value: unknown, path: FieldPath): unknown {
  return path.reduce<unknown>((v, seg) => (v && typeof v === "object" ? (v as Record<string | number, unknown>)[seg] : undefined), value);
}

function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return JSON.stringify(v);
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}
