// The state dir as commands name it (--state-dir), and the apply service over it for the
// commands that write (--wait: how long to wait for another writer, such as the agent).
import type { CommandContext } from "./command";
import { UsageError } from "../base/errors";
import { parseDuration } from "../base/duration";
import { DEFAULT_STATE_DIR } from "../base/state-dir";
import { Journal } from "../journal/journal";
import { ApplyService, DEFAULT_LOCK_WAIT_MS } from "../apply/service";

export const stateDirOption = { "state-dir": { type: "string" as const } };
export const writerOptions = { ...stateDirOption, wait: { type: "string" as const } };
export const WAIT_USAGE = `[--state-dir DIR] [--wait ${DEFAULT_LOCK_WAIT_MS / 1000}s]`;

export const stateDirOf = (ctx: CommandContext) => String(ctx.values["state-dir"] ?? DEFAULT_STATE_DIR);
export const journalOf = (ctx: CommandContext) => new Journal(stateDirOf(ctx));

export function applyServiceOf(ctx: CommandContext): ApplyService {
  const wait = ctx.values.wait;
  const lockWaitMs = wait === undefined ? DEFAULT_LOCK_WAIT_MS : parseDuration(String(wait));
  if (lockWaitMs === null) throw new UsageError(`--wait takes a duration like 30s or 2m; got "${String(wait)}"`);
  return new ApplyService({
    stateDir: stateDirOf(ctx),
    lockWaitMs,
    onLockWait: (holder) => ctx.log.info("waiting for the state dir", { holder: holder ? `pid ${holder.pid} (${holder.command})` : "another process", waitS: lockWaitMs / 1000 }),
    onJournal: (problem) => problem && ctx.log.warn(`${problem}; the host is configured all the same, but not on record`),
  });
}
