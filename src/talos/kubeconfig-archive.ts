// The kubeconfig out of machined's Kubeconfig answer: a .tar.gz holding one regular file named
// "kubeconfig" (machined wraps it so to match its Copy rpc). Pure. Only what a tar writer makes
// of one small file is read — ustar headers, and the pax or GNU long-name records Go's writer or
// GNU tar may put before it; nothing is written anywhere.
import { gunzipSync } from "node:zlib";

export class KubeconfigArchiveError extends Error {}

const BLOCK = 512;
const FILE_NAME = "kubeconfig";

/** The text of the archive's "kubeconfig" file; a clear error (never its content) otherwise. */
export function kubeconfigFromArchive(archive: Uint8Array): string {
  const fail = (why: string) => new KubeconfigArchiveError(`machined's Kubeconfig answer is not a .tar.gz holding a file named ${FILE_NAME}: ${why}`);
  let tar: Buffer;
  try {
    tar = gunzipSync(archive);
  } catch (err) {
    throw fail(`not gzip (${(err as Error).message})`);
  }
  let longName: string | undefined;
  for (let at = 0; at + BLOCK <= tar.length; ) {
    const header = tar.subarray(at, at + BLOCK);
    if (header.every((b) => b === 0)) break; // the end-of-archive blocks
    const size = parseInt(field(header, 124, 12).trim() || "0", 8);
    if (!Number.isFinite(size) || size < 0 || at + BLOCK + size > tar.length) throw fail(`an entry's size is not readable at byte ${at}`);
    const body = tar.subarray(at + BLOCK, at + BLOCK + size);
    const type = String.fromCharCode(header[156]!);
    if (type === "x") longName = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(body.toString("utf8"))?.[1] ?? longName;
    else if (type === "L") longName = field(body, 0, body.length);
    else {
      // POSIX ustar keeps a path prefix at 345; GNU's format ("ustar  ") keeps times there.
      const prefix = header.subarray(257, 263).toString("latin1") === "ustar\0" ? field(header, 345, 155) : "";
      const name = longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
      longName = undefined;
      if ((type === "0" || type === "\0") && name.replace(/^\.\//, "") === FILE_NAME) return body.toString("utf8");
    }
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  throw fail("no such file in it");
}

/** A NUL-terminated string field of a tar header. */
function field(block: Buffer, offset: number, length: number): string {
  const bytes = block.subarray(offset, offset + length);
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end < 0 ? bytes.length : end).toString("utf8");
}
