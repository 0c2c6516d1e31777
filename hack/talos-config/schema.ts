// Checks Talos machine-config documents against Talos's published JSON schema
// (schemas/talos/config.v1.13.9.schema.json, a copy of the published one; FOS1_TALOS_SCHEMA names another).
// The schema's root is a oneOf over every document kind, which answers a bad document with
// every kind's complaints; each document is checked against its own kind's part instead:
// v1alpha1.Config for the legacy document (no kind), the $def whose kind enum names it for
// the others.
import Ajv2020, { type ErrorObject, type ValidateFunction } from "ajv/dist/2020";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";

export const TALOS_SCHEMA_PATH = process.env.FOS1_TALOS_SCHEMA ?? resolve(import.meta.dir, "../../schemas/talos/config.v1.13.9.schema.json");

interface Schema {
  $id: string;
  $defs: Record<string, { properties?: { kind?: { enum?: string[] } } }>;
}

export class TalosSchema {
  private readonly ajv = new Ajv2020({ allErrors: true, strict: false });
  private readonly byKind = new Map<string, string>();
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly schema: Schema) {
    this.ajv.addFormat("uri", (s: string) => URL.canParse(s));
    this.ajv.addSchema(schema);
    for (const [def, body] of Object.entries(schema.$defs)) for (const kind of body.properties?.kind?.enum ?? []) this.byKind.set(kind, def);
  }

  static load(path = TALOS_SCHEMA_PATH): TalosSchema {
    if (!existsSync(path)) throw new Error(`Talos's machine-config schema is not at ${path} (FOS1_TALOS_SCHEMA names another copy)`);
    return new TalosSchema(JSON.parse(readFileSync(path, "utf8")) as Schema);
  }

  /** The kinds of new-style documents the schema knows. */
  get kinds(): string[] {
    return [...this.byKind.keys()].sort();
  }

  /** Problems of one document, "field.path: message" each; [] when it is valid. */
  check(doc: unknown): string[] {
    if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return ["a machine-config document must be a mapping"];
    const kind = (doc as { kind?: unknown }).kind;
    const def = kind === undefined ? "v1alpha1.Config" : this.byKind.get(String(kind));
    if (!def) return [`kind: unknown document kind ${JSON.stringify(kind)}; Talos ${this.version} knows ${this.kinds.join(", ")}`];
    let validate = this.compiled.get(def);
    if (!validate) {
      validate = this.ajv.getSchema(`${this.schema.$id}#/$defs/${def}`);
      if (!validate) throw new Error(`the Talos schema has no $defs/${def}`);
      this.compiled.set(def, validate);
    }
    return validate(doc) ? [] : (validate.errors ?? []).map(describe);
  }

  private get version(): string {
    return /v\d+\.\d+/.exec(this.schema.$id)?.[0] ?? "";
  }
}

function describe(e: ErrorObject): string {
  const path = e.instancePath.split("/").slice(1).join(".") || "(document)";
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "additionalProperties":
      return `${path}: unknown field "${p.additionalProperty}"`;
    case "enum":
      return `${path}: must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return `${path}: ${e.message ?? "is not valid"}`;
  }
}
