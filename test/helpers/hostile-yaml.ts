// Config files an attacker (or an accident) could leave where fos1 reads its config.

/** A "billion laughs": ten levels of nine aliases each, 9^10 nodes once expanded, in 11 lines. */
export function aliasBomb(): string {
  const names = "abcdefghijk";
  let text = `${names[0]}: &${names[0]} [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n`;
  for (let i = 1; i < names.length; i++) text += `${names[i]}: &${names[i]} [${Array(9).fill(`*${names[i - 1]}`).join(", ")}]\n`;
  return text;
}

/** A flow sequence nested depth deep on one line: [[[[…]]]]. */
export const deepFlow = (depth: number) => `spec: ${"[".repeat(depth)}${"]".repeat(depth)}\n`;

/** Block mappings nested depth deep, one key per line. */
export const deepBlock = (depth: number) => Array.from({ length: depth }, (_, i) => `${" ".repeat(i)}k${i}:`).join("\n") + " x\n";
