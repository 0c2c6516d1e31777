// A benchmark's section of bench/README.md, between its markers: replaced when there, appended when not.
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const README = join(resolve(import.meta.dir, "../.."), "bench", "README.md");

export function writeSection(name: string, text: string): void {
  const current = readFileSync(README, "utf8");
  const marked = new RegExp(`<!-- ${name}:begin[\\s\\S]*?<!-- ${name}:end -->`);
  writeFileSync(README, marked.test(current) ? current.replace(marked, text) : `${current.trimEnd()}\n\n${text}\n`);
}
