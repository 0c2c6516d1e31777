// The rules apiextensions.k8s.io/v1 applies to a CRD's openAPIV3Schema before it accepts it
// (no kube-apiserver can run here, so they are restated and checked in tests): Kubernetes'
// "Specifying a structural schema" and the static checks of apiextensions-apiserver's
// validation (forbidden keywords, properties vs additionalProperties, list-map keys, metadata).
// Returns one line per violation: "path: what is wrong".

type Schema = Record<string, unknown>;

const TYPES = new Set(["object", "array", "string", "integer", "number", "boolean"]);
const KNOWN_FORMATS = new Set([
  "bsonobjectid", "uri", "email", "hostname", "ipv4", "ipv6", "cidr", "mac", "uuid", "uuid3", "uuid4", "uuid5", "isbn", "isbn10",
  "isbn13", "creditcard", "ssn", "hexcolor", "rgbcolor", "byte", "password", "date", "duration", "datetime", "date-time", "int32", "int64", "float", "double",
]);
/** The fields of JSONSchemaProps a v1 CRD may set; everything else is unknown to the API server. */
const ALLOWED = new Set([
  "description", "type", "format", "title", "default", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength",
  "pattern", "maxItems", "minItems", "uniqueItems", "multipleOf", "enum", "maxProperties", "minProperties", "required", "items", "allOf", "oneOf",
  "anyOf", "not", "properties", "additionalProperties", "nullable", "example", "externalDocs",
  "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string", "x-kubernetes-embedded-resource", "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys", "x-kubernetes-map-type", "x-kubernetes-validations",
]);
const FORBIDDEN: Record<string, string> = {
  $ref: "$ref is not supported",
  $schema: "$schema is not supported",
  id: "id is not supported",
  $id: "$id is not supported",
  definitions: "definitions is not supported",
  dependencies: "dependencies is not supported",
  patternProperties: "patternProperties is not supported",
  additionalItems: "additionalItems is not supported",
  const: "const is not supported (use a one-value enum)",
};
const JUNCTORS = ["allOf", "anyOf", "oneOf"] as const;
/** Not allowed inside allOf/anyOf/oneOf/not (structural rule 3). */
const NOT_IN_JUNCTOR = ["description", "type", "default", "additionalProperties", "nullable"];

export function structuralViolations(root: Schema): string[] {
  const out: string[] = [];
  if (root.type !== "object") out.push("<root>: type must be object");
  if (root.nullable) out.push("<root>: nullable cannot be true at the root");
  for (const k of ["apiVersion", "kind"]) {
    const p = (root.properties as Record<string, Schema> | undefined)?.[k];
    if (p && p.type !== "string") out.push(`<root>.${k}: must be of type string`);
  }
  const meta = (root.properties as Record<string, Schema> | undefined)?.metadata;
  if (meta) {
    if (meta.type !== "object") out.push("metadata: type must be object");
    for (const k of Object.keys(meta)) if (!["type", "properties", "description"].includes(k)) out.push(`metadata: only name and generateName may be restricted, not ${k}`);
    for (const k of Object.keys((meta.properties as Schema | undefined) ?? {})) if (k !== "name" && k !== "generateName") out.push(`metadata.${k}: only name and generateName may be restricted`);
  }
  node(root, "<root>", false, out);
  return out;
}

function node(s: Schema, path: string, inJunctor: boolean, out: string[]): void {
  const intOrString = s["x-kubernetes-int-or-string"] === true;
  const preserve = s["x-kubernetes-preserve-unknown-fields"] === true;
  for (const key of Object.keys(s)) {
    if (FORBIDDEN[key]) out.push(`${path}: ${FORBIDDEN[key]}`);
    else if (!ALLOWED.has(key)) out.push(`${path}: unknown field ${key}`);
  }
  if (s.uniqueItems === true) out.push(`${path}: uniqueItems cannot be set to true`);
  if (s.type === "null") out.push(`${path}: type cannot be null (use nullable)`);
  else if (s.type !== undefined && !TYPES.has(s.type as string)) out.push(`${path}: type ${JSON.stringify(s.type)} is not one of ${[...TYPES].join(", ")}`);
  if (typeof s.format === "string" && !KNOWN_FORMATS.has(s.format)) out.push(`${path}: format ${s.format} is not one the API server knows`);
  if (s["x-kubernetes-preserve-unknown-fields"] === false) out.push(`${path}: x-kubernetes-preserve-unknown-fields must be true or undefined`);

  if (!inJunctor) {
    // Rule 1: every specified node has a type, but int-or-string (which must have none) and preserve-unknown-fields.
    if (intOrString) {
      if (s.type !== undefined) out.push(`${path}: type must be empty when x-kubernetes-int-or-string is true`);
      if (s.anyOf !== undefined && !isIntOrStringPattern(s.anyOf)) out.push(`${path}: anyOf must be [{type: integer}, {type: string}] with x-kubernetes-int-or-string`);
    } else if (!preserve && (s.type === undefined || s.type === "")) out.push(`${path}: type must not be empty`);
  } else {
    // Rule 3: no description, type, default, additionalProperties, nullable inside a junctor.
    for (const k of NOT_IN_JUNCTOR) if (s[k] !== undefined) out.push(`${path}: ${k} must not be set inside allOf/anyOf/oneOf/not`);
    for (const k of Object.keys(s)) if (k.startsWith("x-kubernetes-")) out.push(`${path}: ${k} must not be set inside allOf/anyOf/oneOf/not`);
  }

  const props = s.properties as Record<string, Schema> | undefined;
  if (props && s.type !== undefined && s.type !== "object") out.push(`${path}: properties need type object, not ${s.type}`);
  if (s.items !== undefined) {
    if (Array.isArray(s.items)) out.push(`${path}: items must be a schema, not an array`);
    else if (s.type !== undefined && s.type !== "array") out.push(`${path}: items need type array, not ${s.type}`);
  }
  if (s.additionalProperties !== undefined && props && Object.keys(props).length)
    if (s.additionalProperties === false || typeof s.additionalProperties === "object") out.push(`${path}: additionalProperties and properties are mutually exclusive`);

  listType(s, path, out);

  for (const [k, v] of Object.entries(props ?? {})) node(v, `${path}.${k}`, inJunctor, out);
  if (s.additionalProperties && typeof s.additionalProperties === "object") node(s.additionalProperties as Schema, `${path}.*`, inJunctor, out);
  if (s.items && !Array.isArray(s.items)) node(s.items as Schema, `${path}[]`, inJunctor, out);

  for (const j of JUNCTORS) {
    const branches = s[j] as Schema[] | undefined;
    if (branches === undefined) continue;
    const exempt = j === "anyOf" && intOrString && isIntOrStringPattern(branches);
    branches.forEach((b, i) => {
      if (exempt) {
        const { type: _t, ...rest } = b;
        node(rest, `${path}.${j}[${i}]`, true, out);
      } else node(b, `${path}.${j}[${i}]`, true, out);
      specifiedOutside(b, s, `${path}.${j}[${i}]`, out);
    });
  }
  if (s.not !== undefined) {
    node(s.not as Schema, `${path}.not`, true, out);
    specifiedOutside(s.not as Schema, s, `${path}.not`, out);
  }
}

/** Rule 2: a field or item named inside a junctor is specified outside it too. */
function specifiedOutside(inner: Schema, outer: Schema, path: string, out: string[]) {
  const outerProps = (outer.properties as Schema | undefined) ?? {};
  for (const k of Object.keys((inner.properties as Schema | undefined) ?? {})) if (!(k in outerProps)) out.push(`${path}.${k}: must be specified outside allOf/anyOf/oneOf/not too`);
  if (inner.items !== undefined && outer.items === undefined) out.push(`${path}[]: items must be specified outside allOf/anyOf/oneOf/not too`);
}

function isIntOrStringPattern(anyOf: unknown): boolean {
  return Array.isArray(anyOf) && anyOf.length === 2 && (anyOf[0] as Schema).type === "integer" && (anyOf[1] as Schema).type === "string";
}

function listType(s: Schema, path: string, out: string[]) {
  const lt = s["x-kubernetes-list-type"];
  const keys = s["x-kubernetes-list-map-keys"] as string[] | undefined;
  if (keys?.length && lt !== "map") out.push(`${path}: x-kubernetes-list-map-keys needs x-kubernetes-list-type map`);
  if (lt === undefined) return;
  if (s.type !== "array") out.push(`${path}: x-kubernetes-list-type needs type array`);
  if (!["atomic", "set", "map"].includes(lt as string)) out.push(`${path}: x-kubernetes-list-type must be atomic, set or map`);
  if (lt !== "map") return;
  const items = s.items as Schema | undefined;
  if (!keys?.length) out.push(`${path}: x-kubernetes-list-map-keys must not be empty for a map list`);
  if (!items || items.type !== "object") return void out.push(`${path}[]: items of a map list must be objects`);
  const props = (items.properties as Record<string, Schema> | undefined) ?? {};
  const required = (items.required as string[] | undefined) ?? [];
  for (const k of keys ?? []) {
    const p = props[k];
    if (!p) out.push(`${path}: map key ${k} is not a property of the items`);
    else if (p.type === "object" || p.type === "array") out.push(`${path}: map key ${k} must be a scalar`);
    else if (!required.includes(k) && p.default === undefined) out.push(`${path}: map key ${k} must be required or have a default`);
  }
}
