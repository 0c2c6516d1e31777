// Structured logging on stderr: JSON lines when stderr is a pipe or file (journald, Talos's
// service log, CI), readable text when a person is watching a terminal.

export type Level = "debug" | "info" | "warn" | "error";
const rank: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type Fields = Record<string, unknown>;

export interface LogSink {
  write(line: string): void;
  isTTY: boolean;
}

// FOS1_LOG_FORMAT=text|json overrides the terminal check (a demo or a pager wants text).
const stderrSink: LogSink = {
  write: (line) => process.stderr.write(line),
  get isTTY() {
    const forced = process.env.FOS1_LOG_FORMAT;
    return forced === "text" || (forced !== "json" && Boolean(process.stderr.isTTY));
  },
};

export class Logger {
  constructor(
    private readonly sink: LogSink = stderrSink,
    private readonly minLevel: Level = levelFromEnv(),
    private readonly base: Fields = {},
  ) {}

  with(fields: Fields): Logger {
    return new Logger(this.sink, this.minLevel, { ...this.base, ...fields });
  }

  debug(msg: string, fields?: Fields) { this.log("debug", msg, fields); }
  info(msg: string, fields?: Fields) { this.log("info", msg, fields); }
  warn(msg: string, fields?: Fields) { this.log("warn", msg, fields); }
  error(msg: string, fields?: Fields) { this.log("error", msg, fields); }

  private log(level: Level, msg: string, fields?: Fields) {
    if (rank[level] < rank[this.minLevel]) return;
    const all = { ...this.base, ...fields };
    const time = new Date().toISOString();
    this.sink.write(this.sink.isTTY ? formatText(time, level, msg, all) : formatJson(time, level, msg, all));
  }
}

function formatJson(time: string, level: Level, msg: string, fields: Fields): string {
  return JSON.stringify({ time, level, msg, ...fields }, errorReplacer) + "\n";
}

function formatText(time: string, level: Level, msg: string, fields: Fields): string {
  const extras = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v, errorReplacer)}`)
    .join(" ");
  return `${time.slice(11, 19)} ${level.toUpperCase().padEnd(5)} ${msg}${extras ? "  " + extras : ""}\n`;
}

function errorReplacer(_key: string, value: unknown) {
  return value instanceof Error ? value.message : value;
}

function levelFromEnv(): Level {
  const v = process.env.FOS1_LOG_LEVEL;
  return v === "debug" || v === "info" || v === "warn" || v === "error" ? v : "info";
}

export const log = new Logger();
