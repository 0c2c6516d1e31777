// Where dnsmasq's leases are: in the state dir, or, when the agent found the state dir not
// writable at its start, in the state dir's runtime folder (src/base/state-dir.ts). The newer
// file is the one the running dnsmasq writes.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fallbackDir } from "../../base/state-dir";
import { fileNames } from "./dnsmasq-config";

/** The LAN services' folder under a state dir (or its runtime stand-in). */
export const lanDir = (stateDir: string) => join(stateDir, "lan");

/** The leases file's text, "" when the LAN services never ran here. */
export function readLeasesText(stateDir: string): string {
  const newest = [lanDir(stateDir), lanDir(fallbackDir(stateDir))]
    .map((dir) => join(dir, fileNames.leases))
    .flatMap((path) => {
      try {
        return [{ path, mtime: statSync(path).mtimeMs }];
      } catch {
        return [];
      }
    })
    .sort((a, b) => b.mtime - a.mtime)[0];
  try {
    return newest ? readFileSync(newest.path, "utf8") : "";
  } catch {
    return "";
  }
}
