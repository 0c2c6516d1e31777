// Renders command results: aligned text columns for people, JSON for scripts (-o json).
import type { CommandContext } from "./command";

export function printResult(ctx: CommandContext, data: unknown, text: () => string) {
  ctx.stdout(ctx.output === "json" ? JSON.stringify(data, null, 2) + "\n" : text());
}

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd();
  return [line(headers), ...rows.map(line)].join("\n") + "\n";
}
