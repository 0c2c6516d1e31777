// A problem found in a config: where (file, document, object, field path, line:col) and what
// is wrong and allowed. Reported one line per problem, all problems at once.
import type { Document, LineCounter } from "yaml";
import { isMap, isSeq, type Node } from "yaml";

export type FieldPath = (string | number)[];

export interface Source {
  file: string;
  /** 1-based position of the document in the file. */
  document: number;
  /** The parsed document; absent for objects taken from a config validated before (host/validated-configs.ts). */
  doc?: Document;
  lineCounter?: LineCounter;
}

export interface ConfigProblem {
  file: string;
  document: number;
  /** "Kind/name" when the document got that far. */
  object?: string;
  path: FieldPath;
  line?: number;
  col?: number;
  message: string;
}

export function formatPath(path: FieldPath): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

export function formatProblem(p: ConfigProblem): string {
  const where = [p.file, p.line, p.col].filter((x) => x !== undefined).join(":");
  const what = `document ${p.document}${p.object ? ` (${p.object})` : ""}`;
  const field = p.path.length ? ` ${formatPath(p.path)}:` : ":";
  return `${where}: ${what}${field} ${p.message}`;
}

/**
 * The line and column of a field path in its document: the value node, or with `atKey` the
 * key itself (for "unknown field"); a path that does not exist points at its deepest parent.
 */
export function locate(src: Source, path: FieldPath, atKey = false): { line: number; col: number } | undefined {
  if (!src.doc || !src.lineCounter) return undefined;
  let node: unknown = src.doc.contents;
  let keyNode: Node | undefined;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((it) => (it.key as { value?: unknown } | null)?.value === seg);
      if (!pair) break;
      keyNode = pair.key as Node;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === "number" && node.items[seg]) {
      keyNode = undefined;
      node = node.items[seg];
    } else break;
  }
  const target = (atKey && keyNode) || (node as Node | null);
  const offset = target?.range?.[0];
  if (offset === undefined) return undefined;
  const pos = src.lineCounter.linePos(offset);
  return { line: pos.line, col: pos.col };
}

export function problemAt(src: Source, object: string | undefined, path: FieldPath, message: string, atKey = false): ConfigProblem {
  return { file: src.file, document: src.document, object, path, message, ...locate(src, path, atKey) };
}
