// Loads multi-document YAML (a file or stdin) into typed objects, keeping each document's
// source so that every problem can name file, document, object, field path and line:col.
import { LineCounter, parseAllDocuments } from "yaml";
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

export function loadConfigText(text: string, file: string): LoadResult {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true });
  const problems: ConfigProblem[] = [];
  const objects: LoadedObject[] = [];
  if (!Array.isArray(docs)) return { objects, problems: [{ file, document: 1, path: [], message: "not a YAML stream" }] };

  docs.forEach((doc, i) => {
    const source: Source = { file, document: i + 1, doc, lineCounter };
    for (const err of doc.errors) {
      const pos = lineCounter.linePos(err.pos[0]);
      problems.push({ file, document: i + 1, path: [], line: pos.line, col: pos.col, message: `YAML: ${err.message.split("\n")[0]}` });
    }
    if (doc.errors.length || doc.contents === null) return; // empty documents (a trailing ---) are fine
    const value = doc.toJS() as unknown;
    if (!value || typeof value !== "object" || Array.isArray(value)) {
      problems.push(problemAt(source, undefined, [], "a document must be a mapping with apiVersion, kind, metadata and spec"));
      return;
    }
    const { apiVersion, kind, metadata } = value as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } };
    const info = kinds.find((k) => k.kind === kind);
    if (!info) {
      const known = kinds.map((k) => k.kind).join(", ");
      problems.push(problemAt(source, undefined, ["kind"], `unknown kind ${JSON.stringify(kind ?? null)}; known kinds: ${known}`));
      return;
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
      return;
    }
    const errors = checkSchema(info.kind, value);
    for (const e of errors) problems.push(problemAt(source, ref, e.path, e.message, e.atKey));
    if (!errors.length) objects.push({ source, ref, value: value as ConfigObject });
  });

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

export async function loadConfigFile(path: string): Promise<LoadResult> {
  const text = path === "-" ? await Bun.stdin.text() : await Bun.file(path).text();
  return loadConfigText(text, path === "-" ? "<stdin>" : path);
}
