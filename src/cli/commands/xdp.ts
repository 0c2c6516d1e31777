// `fos1 xdp status|list|block|unblock`: the loaded XDP filters as the operator sees them, and
// blocks added by hand (dynamic, optionally with a TTL the agent enforces) beside the config's.
import type { Command } from "../command";
import { InvalidInputError, OperationError, UsageError } from "../../base/errors";
import { printResult, table } from "../output";
import { parseDuration } from "../../base/duration";
import { observeLinks } from "../../engine/host-reader";
import { blockDynamic, filterStatus, listBlocked, NoFilterError, operatorPrefix, unblock, type FilterStatus } from "../../engine/xdp/admin";
import { DEFAULT_STATE_DIR } from "../../base/state-dir";

const USAGE = "fos1 xdp status | list | block CIDR [--ttl 1h] | unblock CIDR   [--state-dir DIR] [-o json]";

export const xdp: Command = {
  name: "xdp",
  summary: "XDP early-drop filters: status (interfaces, mode, counters), list, block CIDR [--ttl], unblock CIDR",
  usage: USAGE,
  printsState: true,
  options: { ttl: { type: "string" }, "state-dir": { type: "string" } },
  maxPositionals: 2,
  async run(ctx) {
    const [sub, arg] = ctx.positionals;
    const stateDir = String(ctx.values["state-dir"] ?? DEFAULT_STATE_DIR);
    const needs = (n: number) => {
      if (ctx.positionals.length !== n) throw new UsageError(`fos1 xdp ${sub} takes ${n === 1 ? "no argument" : "one CIDR"}\nusage: ${USAGE}`);
    };
    if (ctx.values.ttl !== undefined && sub !== "block") throw new UsageError(`--ttl goes with fos1 xdp block\nusage: ${USAGE}`);
    try {
      switch (sub) {
        case "status": {
          needs(1);
          const s = filterStatus((await observeLinks()).map((l) => l.name));
          printResult(ctx, { filters: s }, () => statusText(s));
          return 0;
        }
        case "list": {
          needs(1);
          const entries = listBlocked(stateDir);
          printResult(ctx, { entries }, () =>
            entries.length
              ? table(["PREFIX", "SOURCE", "EXPIRES", "FILTER", "DROPPED"], entries.map((e) => [e.prefix, e.source, e.expires ?? "-", e.filter, e.packets]))
              : "No blocked prefixes.\n",
          );
          return 0;
        }
        case "block": {
          needs(2);
          const prefix = prefixArg(arg!);
          const ttl = ctx.values.ttl === undefined ? null : parseDuration(String(ctx.values.ttl));
          if (ctx.values.ttl !== undefined && ttl === null) throw new InvalidInputError(`--ttl takes a duration like 90s, 30m or 1h; got "${ctx.values.ttl}"`);
          const { filters, entry } = blockDynamic(stateDir, prefix, ttl);
          printResult(ctx, { ...entry, filters }, () => `Blocked ${prefix} in ${filters.join(", ")}${entry.expires ? ` until ${entry.expires}` : " until fos1 xdp unblock"}.\n`);
          return 0;
        }
        case "unblock": {
          needs(2);
          const prefix = prefixArg(arg!);
          const filters = unblock(stateDir, prefix);
          if (!filters.length) throw new OperationError(`${prefix} is not blocked by any XDP filter`);
          printResult(ctx, { prefix, filters }, () => `Unblocked ${prefix} in ${filters.join(", ")}. (A prefix from the config's blocklist comes back with the next apply.)\n`);
          return 0;
        }
        default:
          throw new UsageError(`${sub === undefined ? "a subcommand is needed" : `unknown subcommand "${sub}"`}\nusage: ${USAGE}`);
      }
    } catch (err) {
      if (err instanceof NoFilterError) throw new OperationError(err.message);
      throw err;
    }
  },
};

function prefixArg(text: string): string {
  try {
    return operatorPrefix(text);
  } catch (err) {
    throw new InvalidInputError(`${(err as Error).message}; give a network like 203.0.113.0/24 or 2001:db8::/32`);
  }
}

function statusText(filters: FilterStatus[]): string {
  if (!filters.length) return "No XDP filter is loaded.\n";
  return filters
    .map((f) => {
      const head = [
        `filter ${f.name}: program ${f.progId ?? "not loaded"}, ${f.blocked} blocked prefixes` +
          (f.deniedPorts.length ? `, denied ports ${f.deniedPorts.join(" ")}` : "") +
          (f.rateLimit ? `, rate ${f.rateLimit.pps} pps burst ${f.rateLimit.burst}` : ""),
        `  interfaces: ${f.interfaces.map((i) => `${i.ifname} (${i.mode})`).join(", ") || "none"}`,
      ].join("\n");
      const rows = Object.entries(f.counters).map(([r, c]) => [r, c.packets, c.bytes]);
      return `${head}\n${table(["  REASON", "PACKETS", "BYTES"], rows.map(([r, p, b]) => [`  ${r}`, p!, b!]))}`;
    })
    .join("\n");
}

