// Durations as operators write them: "90s", "2m", "1h", "2d", or plain seconds.
const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "2m", "1h", "2d" or plain seconds → milliseconds; null when it is not a positive duration. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!m) return null;
  const ms = Number(m[1]) * UNITS[m[2] || "s"]!;
  return ms > 0 ? ms : null;
}
