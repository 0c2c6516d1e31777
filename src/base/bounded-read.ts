// Reading a file or standard input without taking in more than a bound: a config of gigabytes
// (or an endless pipe) is refused after max+1 bytes, not read whole into memory first.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

export type BoundedText = { text: string } | { tooLarge: number };

const CHUNK = 1 << 16;

/** path "-" is standard input; tooLarge is the size in bytes (of a stream or a growing file: at least max+1). */
export async function readTextBounded(path: string, max: number): Promise<BoundedText> {
  if (path === "-") return collect(Bun.stdin.stream(), max);
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    if (size > max) return { tooLarge: size };
    // Read to the end, not to the size seen: the file may change between the stat and the read.
    return await collect(
      (async function* () {
        for (;;) {
          const buf = Buffer.allocUnsafe(CHUNK);
          const n = readSync(fd, buf, 0, CHUNK, null);
          if (n === 0) return;
          yield buf.subarray(0, n);
        }
      })(),
      max,
    );
  } finally {
    closeSync(fd);
  }
}

async function collect(chunks: AsyncIterable<Uint8Array>, max: number): Promise<BoundedText> {
  const kept: Uint8Array[] = [];
  let got = 0;
  for await (const chunk of chunks) {
    got += chunk.length;
    if (got > max) return { tooLarge: got };
    kept.push(chunk);
  }
  return { text: Buffer.concat(kept).toString("utf8") };
}
