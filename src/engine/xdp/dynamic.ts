// Prefixes blocked by `fos1 xdp block` (dynamic, optionally with a TTL), as opposed to the
// config's blocklist (static). The maps' value (struct xdpf_hits) has no room for a flag or an
// expiry and widening it would break every existing pin, so the record lives in the state
// dir: one small file per prefix under <state dir>/xdp-dynamic/. One file per entry means the
// CLI adding and the agent expiring never rewrite each other's entries (no read-modify-write
// of a shared list). A dynamic prefix is in every loaded filter; apply never removes it.
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../../base/atomic-file";

export interface DynamicEntry {
  prefix: string;
  addedAt: string;
  /** ISO time; null: until `fos1 xdp unblock`. */
  expires: string | null;
  /** Who made it: "ids" for `fos1 ids run` (which may evict its own blocks); absent for the operator's. */
  origin?: "ids";
}

const dir = (stateDir: string) => join(stateDir, "xdp-dynamic");
const file = (stateDir: string, prefix: string) => join(dir(stateDir), `${prefix.replace(/\//g, "_")}.json`);

export function readDynamic(stateDir: string): DynamicEntry[] {
  let names: string[];
  try {
    names = readdirSync(dir(stateDir)).filter((n) => n.endsWith(".json"));
  } catch {
    return [];
  }
  const out: DynamicEntry[] = [];
  for (const n of names) {
    try {
      out.push(JSON.parse(readFileSync(join(dir(stateDir), n), "utf8")) as DynamicEntry);
    } catch {
      // removed meanwhile, or a torn file from a crash: not an entry
    }
  }
  return out.sort((a, b) => a.prefix.localeCompare(b.prefix));
}

export const isExpired = (e: DynamicEntry, now: number) => e.expires !== null && Date.parse(e.expires) <= now;

export function writeDynamic(stateDir: string, e: DynamicEntry): void {
  writeFileAtomic(file(stateDir, e.prefix), JSON.stringify(e) + "\n", { mkdir: true });
}

export function removeDynamic(stateDir: string, prefix: string): void {
  rmSync(file(stateDir, prefix), { force: true });
}
