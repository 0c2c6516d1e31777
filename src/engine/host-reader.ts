// The host as the reconcilers read it. Several of them read the same dump (links and
// addresses one `ip -json -details address show`; routes and IPv4 rules one `ip -json -batch`),
// so each dump is read once per observation, when the first reconciler asks, and shared.
import { FOS1_PROTO, type ObservedLink } from "./model";
import { runToolOk } from "../base/tool";
import { parseLinks } from "./links/observe";
import type { EngineEnv } from "./reconciler";

export class HostReader {
  private readonly memo = new Map<string, Promise<unknown>>();

  constructor(readonly env: EngineEnv = {}) {}

  get ip(): string {
    return this.env.ip ?? "ip";
  }

  /** Every link with its addresses (`ip -json -details address show`). */
  links(): Promise<ObservedLink[]> {
    return this.once("links", async () => parseLinks(await runToolOk({ purpose: "read interfaces", argv: [this.ip, "-json", "-details", "address", "show"] })));
  }

  /** fos1's routes in every table and the IPv4 rules, as ip prints them (two JSON arrays). */
  routesAndRules4(): Promise<string> {
    return this.once("routes+rules4", () =>
      runToolOk({ purpose: "read routes and rules", argv: [this.ip, "-json", "-batch", "-"], stdin: `route show table all proto ${FOS1_PROTO}\nrule show\n` }),
    );
  }

  /** The IPv6 rules, as ip prints them. */
  rules6(): Promise<string> {
    return this.once("rules6", () => runToolOk({ purpose: "read IPv6 rules", argv: [this.ip, "-json", "-6", "rule", "show"] }));
  }

  private once<T>(key: string, read: () => Promise<T>): Promise<T> {
    let p = this.memo.get(key) as Promise<T> | undefined;
    if (!p) this.memo.set(key, (p = read()));
    return p;
  }
}

/** Every link with its addresses, read on its own (commands that need only the links). */
export const observeLinks = (ip?: string) => new HostReader(ip ? { ip } : {}).links();

/** `ip -json -batch` prints one JSON array per command, back to back. */
export function splitJsonArrays(text: string): string[] {
  const out: string[] = [];
  let depth = 0, start = -1, inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "[") {
      if (depth++ === 0) start = i;
    } else if (c === "]" && --depth === 0) out.push(text.slice(start, i + 1));
  }
  return out;
}
