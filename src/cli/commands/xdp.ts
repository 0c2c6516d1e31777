// `fos1 xdp status|list|block|unblock`: the loaded XDP filters as the operator sees them, and
// blocks added by hand (dynamic, optionally with a TTL the agent enforces) beside the config's.
import type { Command } from "../command";
import { InvalidInputError, OperationError, UsageError } from "../../base/errors";
import { printResult, table } from "../output";
import { parseDuration } from "../../base/duration";
import { observeLinks } from "../../engine/host-reader";
import { blockDynamic, filterStatus, listBlocked, NoFilterError, operatorPrefix, unblock, type FilterStatus } from "../../engine/xdp/admin";
import { DEFAULT_STATE_DIR } from "../../base/state-dir";
import { Journal } from "../../journal/journal";
import { loadConfigText } from "../../api/load";
import { desiredState } from "../../engine/desired";
import type { DesiredXdp, DesiredXdpFilter } from "../../engine/xdp/model";

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
          const s = filterStatus((await observeLinks()).map((l) => l.name), { checkIndex: true });
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
          const { filters, entry, evicted } = blockDynamic(stateDir, prefix, ttl, recordedXdp(stateDir));
          printResult(
            ctx,
            { ...entry, filters, evicted },
            () =>
              `Blocked ${prefix} in ${filters.join(", ")}${entry.expires ? ` until ${entry.expires}` : " until fos1 xdp unblock"}.\n` +
              (evicted.length ? `To make room, the oldest dynamic block${evicted.length === 1 ? " was" : "s were"} lifted: ${evicted.join(", ")}.\n` : ""),
          );
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

/**
 * The XDP filters of the configs on record (the one in force and a pending one), their
 * blocklists merged: what making room must never lift. Undefined when the journal cannot be
 * read (then an evicted prefix that the config also blocks comes back with the next apply).
 */
function recordedXdp(stateDir: string): DesiredXdp | undefined {
  try {
    const journal = new Journal(stateDir);
    const filters = new Map<string, DesiredXdpFilter>();
    for (const rec of [journal.lastKnownGood(), journal.pending()]) {
      const loaded = rec ? loadConfigText(rec.text, "the recorded config") : null;
      if (!loaded || loaded.problems.length) continue;
      for (const f of desiredState(loaded.objects).xdp?.filters ?? []) {
        const had = filters.get(f.name);
        filters.set(f.name, had ? { ...f, blocklist: [...new Set([...had.blocklist, ...f.blocklist])] } : f);
      }
    }
    return { filters: [...filters.values()] };
  } catch {
    return undefined;
  }
}

const fill = (x: { count: number; capacity: number }) => {
  const pct = (100 * x.count) / x.capacity;
  return `${x.count.toLocaleString("en")} of ${x.capacity.toLocaleString("en")} prefixes (${x.count && pct < 0.01 ? "< 0.01" : pct < 1 ? pct.toFixed(2) : pct.toFixed(0)} %)`;
};
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

function statusText(filters: FilterStatus[]): string {
  if (!filters.length) return "No XDP filter is loaded.\n";
  return filters
    .map((f) => {
      const head = [
        `filter ${f.name}: program ${f.progId ?? "not loaded"}, ${f.blocked} blocked prefixes` +
          (f.deniedPorts.length ? `, denied ports ${f.deniedPorts.join(" ")}` : "") +
          (f.rateLimit ? `, rate ${f.rateLimit.pps} pps burst ${f.rateLimit.burst}` : ""),
        `  interfaces: ${f.interfaces.map((i) => `${i.ifname} (${i.mode})`).join(", ") || "none"}`,
        `  holds: ${fill(f.fill.ipv4)} IPv4, ${fill(f.fill.ipv6)} IPv6; kernel memory ${mib(f.memoryBytes)}${f.memoryEstimated ? " (this kernel, before Linux 6.4, estimates it from the maps' sizes as if they were full)" : ""}`,
        ...(f.unindexed ? [`  index: ${f.unindexed}; the next fos1 apply (or the agent) computes it again`] : []),
      ].join("\n");
      const rows = Object.entries(f.counters).map(([r, c]) => [r, c.packets, c.bytes]);
      return `${head}\n${table(["  REASON", "PACKETS", "BYTES"], rows.map(([r, p, b]) => [`  ${r}`, p!, b!]))}`;
    })
    .join("\n");
}

