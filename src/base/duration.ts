// Durations as operators write them on the command line: "90s", "2m", "1h", or plain seconds.
const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };

/** "90s", "2m", "1h" or plain seconds → milliseconds; null when it is not a positive duration. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+)([smh]?)$/.exec(text.trim());
  if (!m) return null;
  const ms = Number(m[1]) * UNITS[m[2] || "s"]!;
  return ms > 0 ? ms : null;
}
