// Loads multi-document YAML into typed objects, keeping each document's source so that every
// problem can name file, document, object, field path and line:col.
//
// A valid config is read with a fast parser; a file with a problem is read again with the
// positioned one, so problems keep their lines at no cost to the files that have none.
//
// A config file is input the agent reads at boot, so a hostile one must end in problems, never
// in a throw, a hang or memory without bound (the agent then keeps the last-known-good): a
// size bound (checked by the readers before they read: src/cli/config-input.ts, the agent), a
// bound on alias expansion (a "billion laughs" is a few lines) and on nesting depth (a stack
// overflow in the parser or in validation).
import { CORE_SCHEMA, loadAll } from "js-yaml";
import { LineCounter, parseAllDocuments, isAlias, isCollection, isPair, type Node } from "yaml";
import { kinds, type ConfigObject } from "./kinds";
import { problemAt, type ConfigProblem, type Source } from "./problems";
import { checkSchema } from "./schema-check";
import { checkNetwork } from "./checks/network";
import { checkServices } from "./checks/services";
import { checkSecurity } from "./checks/security";
import { checkXdp } from "./checks/xdp";
import { checkDpi } from "./checks/dpi";

export interface LoadedObject<T extends ConfigObject = ConfigObject> {
  source: Source;
  /** "Kind/name", the way problems and plans name an object. */
  ref: string;
  value: T;
}

export interface LoadResult {
  objects: LoadedObject[];
  problems: ConfigProblem[];
}

/** The largest config file read: about 20 times the 10 000-rule config of bench/ (about 1.5 MB). */
export const MAX_CONFIG_BYTES = 32 * 1024 * 1024;
/** Alias uses per document, weighted by what each expands to (the yaml package's own bound). */
export const MAX_ALIAS_COUNT = 100;
/** Nesting of mappings and sequences; the deepest config kind nests fewer than 10. */
export const MAX_DEPTH = 64;

export function tooLargeProblem(file: string, bytes: number): ConfigProblem {
  return { file, document: 1, path: [], message: `the file is ${bytes} bytes, more than a config may have (${MAX_CONFIG_BYTES} bytes); split it or remove what it repeats` };
}

/** How deep the document's collections nest (aliases are not followed), walked without recursion. */
function nesting(root: unknown): { depth: number; at?: Node } {
  let deepest: { depth: number; at?: Node } = { depth: 0 };
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (isPair(node)) {
      stack.push([node.key, depth], [node.value, depth]);
    } else if (isCollection(node)) {
      if (depth + 1 > deepest.depth) deepest = { depth: depth + 1, at: node };
      if (deepest.depth > MAX_DEPTH) return deepest;
      for (const item of node.items) stack.push([item, depth + 1]);
    }
  }
  return deepest;
}

export function loadConfigText(text: string, file: string): LoadResult {
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_CONFIG_BYTES) return { objects: [], problems: [tooLargeProblem(file, bytes)] };
  // Most configs are valid: they are read with a fast parser (js-yaml, 10-15 times the yaml
  // package's speed), and only a file with a problem is read again with the yaml package, whose
  // nodes say where each problem is.
  const quick = quickParse(text);
  if (quick) {
    const loaded = checkDocuments(quick.map((value, i) => ({ source: { file, document: i + 1 }, value })));
    if (!loaded.problems.length) return loaded;
  }
  return positionedLoad(text, file);
}

/**
 * The documents' values, or null when the text needs the positioned parse: it does not parse
 * (duplicate keys included: js-yaml refuses them as the yaml package does), it has anchors or
 * aliases (whose expansion the yaml package bounds; js-yaml would hand on shared objects that
 * validation walks again at every use), or it nests deeper than MAX_DEPTH. The core schema, as
 * the yaml package's: no timestamps, no merge keys, no custom tags.
 */
function quickParse(text: string): unknown[] | null {
  if (ANCHOR_OR_ALIAS.test(text)) return null;
  let docs: unknown[];
  try {
    docs = loadAll(text, null, { schema: CORE_SCHEMA });
  } catch {
    return null;
  }
  return docs.every((d) => valueDepth(d) <= MAX_DEPTH) ? docs : null;
}

/** `&name` or `*name` where YAML could read an anchor or an alias (a few false alarms only cost the slower parse). */
const ANCHOR_OR_ALIAS = /(^|[\s[\]{},])[&*][^\s,[\]{}]/m;

/** How deep a parsed value's arrays and objects nest, walked without recursion. */
function valueDepth(root: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    deepest = Math.max(deepest, depth + 1);
    if (deepest > MAX_DEPTH) return deepest;
    for (const item of Object.values(v)) stack.push([item, depth + 1]);
  }
  return deepest;
}

/** The yaml package's parse: every problem with its line and column. */
function positionedLoad(text: string, file: string): LoadResult {
  const lineCounter = new LineCounter();
  let docs: ReturnType<typeof parseAllDocuments>;
  try {
    docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true });
  } catch (err) {
    // Flow collections nested thousands deep ([[[[…) overflow the parser's stack before any check of ours can run.
    if (!(err instanceof RangeError)) throw err;
    return { objects: [], problems: [{ file, document: 1, path: [], message: `mappings and sequences nest too deep to be read (more than ${MAX_DEPTH} deep is refused); no config kind nests that deep` }] };
  }
  if (!Array.isArray(docs)) return { objects: [], problems: [{ file, document: 1, path: [], message: "not a YAML stream" }] };

  const parsed: ParsedDocument[] = [];
  docs.forEach((doc, i) => {
    const source: Source = { file, document: i + 1, doc, lineCounter };
    const syntax: ConfigProblem[] = [];
    for (const err of doc.errors) {
      const pos = lineCounter.linePos(err.pos[0]);
      // The parser catches its own stack overflow on a deeply nested flow collection ([[[[…).
      const message = /call stack/i.test(err.message) ? `mappings and sequences nest more than ${MAX_DEPTH} deep here; no config kind nests that deep` : `YAML: ${err.message.split("\n")[0]}`;
      syntax.push({ file, document: i + 1, path: [], line: pos.line, col: pos.col, message });
    }
    if (doc.errors.length || doc.contents === null) {
      parsed.push({ source, value: null, problems: syntax }); // empty documents (a trailing ---) are fine
      return;
    }
    const nested = nesting(doc.contents);
    if (nested.depth > MAX_DEPTH) {
      const pos = nested.at?.range ? lineCounter.linePos(nested.at.range[0]) : undefined;
      parsed.push({ source, value: null, problems: [{ file, document: i + 1, path: [], ...(pos ? { line: pos.line, col: pos.col } : {}), message: `mappings and sequences nest more than ${MAX_DEPTH} deep here; no config kind nests that deep` }] });
      return;
    }
    try {
      parsed.push({ source, value: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) });
    } catch (err) {
      if (!(err instanceof ReferenceError)) throw err;
      const unresolved = /^Unresolved alias.*: (.*)$/.exec(err.message);
      // The yaml package counts each alias use by what it expands to: an exponential expansion ends here.
      const alias = firstAlias(doc.contents, unresolved?.[1]);
      const pos = alias?.range ? lineCounter.linePos(alias.range[0]) : undefined;
      const message = unresolved
        ? `alias *${unresolved[1]} names no anchor (&${unresolved[1]}) set before it in this document; anchors do not reach across ---`
        : `aliases (*name) expand to more than ${MAX_ALIAS_COUNT} nodes in this document; write the values out, or use fewer aliases`;
      parsed.push({ source, value: null, problems: [{ file, document: i + 1, path: [], ...(pos ? { line: pos.line, col: pos.col } : {}), message }] });
    }
  });
  return checkDocuments(parsed);
}

/** A document as read: its value (null: empty, or not readable), and what made it unreadable. */
interface ParsedDocument {
  source: Source;
  value: unknown;
  problems?: ConfigProblem[];
}

/** Each document's kind, apiVersion and schema, then the objects' names and the cross-object checks. */
function checkDocuments(docs: ParsedDocument[]): LoadResult {
  const problems: ConfigProblem[] = [];
  const objects: LoadedObject[] = [];
  for (const { source, value, problems: unreadable } of docs) {
    if (unreadable) {
      problems.push(...unreadable);
      continue;
    }
    if (value === null) continue; // an empty document (a trailing ---, or a lone ~)
    if (typeof value !== "object" || Array.isArray(value)) {
      problems.push(problemAt(source, undefined, [], "a document must be a mapping with apiVersion, kind, metadata and spec"));
      continue;
    }
    const { apiVersion, kind, metadata } = value as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } };
    const info = kinds.find((k) => k.kind === kind);
    if (!info) {
      const known = kinds.map((k) => k.kind).join(", ");
      problems.push(problemAt(source, undefined, ["kind"], `unknown kind ${JSON.stringify(kind ?? null)}; known kinds: ${known}`));
      continue;
    }
    const ref = `${info.kind}/${typeof metadata?.name === "string" ? metadata.name : "?"}`;
    if (apiVersion !== info.apiVersion) {
      // Without the right apiVersion the schema's messages would be noise; what else a pasted
      // fragment lacks is said here, all at once.
      const { spec } = value as { spec?: unknown };
      problems.push(
        problemAt(source, ref, apiVersion === undefined ? [] : ["apiVersion"], apiVersion === undefined ? `apiVersion is missing: a ${info.kind} is apiVersion: ${info.apiVersion}` : `${info.kind} is ${info.apiVersion}; got ${JSON.stringify(apiVersion)}`),
      );
      if (typeof metadata?.name !== "string") problems.push(problemAt(source, ref, metadata === undefined ? [] : ["metadata"], `metadata.name is missing: every object is named (metadata: {name: …})`));
      if (spec === undefined) problems.push(problemAt(source, ref, [], `spec is missing: a ${info.kind} says what it wants in spec`));
      continue;
    }
    const errors = checkSchema(info.kind, value);
    for (const e of errors) problems.push(problemAt(source, ref, e.path, e.message, e.atKey));
    if (!errors.length) objects.push({ source, ref, value: value as ConfigObject });
  }

  // Objects are unique per kind and name across all files given.
  const seen = new Map<string, LoadedObject>();
  for (const o of objects) {
    const first = seen.get(o.ref);
    if (first) problems.push(problemAt(o.source, o.ref, ["metadata", "name"], `duplicate ${o.ref}: already defined in document ${first.source.document}`));
    else seen.set(o.ref, o);
  }
  // Cross-object checks only make sense once every object is well-formed.
  if (!problems.length) problems.push(...checkNetwork(objects), ...checkServices(objects), ...checkSecurity(objects), ...checkXdp(objects), ...checkDpi(objects));
  return { objects, problems };
}

/** The first alias in the document (of the anchor named, if one is). */
function firstAlias(root: unknown, name?: string): Node | undefined {
  const stack: unknown[] = [root];
  while (stack.length) {
    const node = stack.pop();
    if (isAlias(node) && (name === undefined || node.source === name)) return node;
    if (isPair(node)) stack.push(node.value, node.key);
    else if (isCollection(node)) for (const item of [...node.items].reverse()) stack.push(item);
  }
  return undefined;
}
