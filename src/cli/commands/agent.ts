// `fos1 agent`: the long-running converger the Talos extension service starts at boot. It
// runs until SIGTERM or SIGINT and then exits 0 without touching the network: stopping the
// service must never take the router's links down.
import type { Command } from "../command";
import { UsageError } from "../errors";
import { DEFAULT_STATE_DIR } from "./apply";
import { Agent } from "../../host/agent/agent";

/** Where Talos mounts the agent's ExtensionServiceConfig file. */
export const DEFAULT_AGENT_CONFIG = "/usr/local/etc/fos1/config.yaml";

export const agent: Command = {
  name: "agent",
  summary: "boot-time host configuration service: converge, then watch the kernel and the config file",
  usage: `fos1 agent [-f FILE] [--state-dir DIR] [--debounce-ms N]   (FILE defaults to ${DEFAULT_AGENT_CONFIG})`,
  printsState: false,
  options: { file: { type: "string", short: "f" }, "state-dir": { type: "string" }, "debounce-ms": { type: "string" } },
  async run(ctx) {
    const file = typeof ctx.values.file === "string" ? ctx.values.file : DEFAULT_AGENT_CONFIG;
    if (file === "-") throw new UsageError("the agent re-reads its config when it changes, so it needs a file, not standard input");
    const debounceMs = parseDebounce(ctx.values["debounce-ms"]);
    const stateDir = String(ctx.values["state-dir"] ?? DEFAULT_STATE_DIR);

    // Installed before the first converge so a stop request during it is not lost.
    let stopRequested: (signal: string) => void = () => {};
    const stopped = new Promise<string>((resolve) => (stopRequested = resolve));
    const onSignal = (signal: NodeJS.Signals) => stopRequested(signal);
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);

    const a = new Agent({ configFile: file, stateDir, log: ctx.log, ...(debounceMs !== undefined ? { debounceMs } : {}) });
    ctx.log.info("agent starting", { config: file, stateDir, pid: process.pid });
    try {
      await Promise.race([a.start(), stopped]);
      const signal = await stopped;
      ctx.log.info("stopping; the network is left as it is", { signal });
    } finally {
      await a.stop();
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
    }
    return 0;
  },
};

function parseDebounce(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || !/^\d+$/.test(v) || n > 60_000) throw new UsageError(`--debounce-ms must be a whole number of milliseconds from 0 to 60000, not "${String(v)}"`);
  return n;
}
