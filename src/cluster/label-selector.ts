// Kubernetes label selectors in their string form (kubectl -l): `k=v`, `k==v`, `k!=v`, `k`,
// `!k`, `k in (a,b)`, `k notin (a,b)`, joined by commas (all must hold). Pure.

export type Labels = Record<string, string>;
export type LabelSelector = (labels: Labels) => boolean;

const KEY = String.raw`(?:[a-z0-9A-Z.-]+\/)?[a-zA-Z0-9](?:[-a-zA-Z0-9_.]*[a-zA-Z0-9])?`;
const VALUE = String.raw`(?:[a-zA-Z0-9](?:[-a-zA-Z0-9_.]*[a-zA-Z0-9])?)?`;
const TERM = new RegExp(String.raw`^\s*(?:(!)\s*(${KEY})|(${KEY})\s*(?:(==|=|!=)\s*(${VALUE})|\s(in|notin)\s*\(([^)]*)\))?)\s*$`);

/** Splits on the commas that are not inside a set's parentheses. */
function terms(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")") depth--;
    else if (text[i] === "," && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

/** Parses a selector; throws saying which term is wrong and what is allowed. An empty selector selects everything. */
export function parseLabelSelector(text: string): LabelSelector {
  if (!text.trim()) return () => true;
  const checks = terms(text).map((term): LabelSelector => {
    const m = TERM.exec(term);
    if (!m) throw new Error(`"${term.trim()}" is not a label selector term (key=value, key!=value, key, !key, key in (a,b), key notin (a,b))`);
    const [, not, notKey, key, op, value, setOp, set] = m;
    if (not) return (l) => !(notKey! in l);
    if (!op && !setOp) return (l) => key! in l;
    if (op === "!=") return (l) => l[key!] !== value;
    if (op) return (l) => l[key!] === value;
    const values = new Set((set ?? "").split(",").map((v) => v.trim()).filter(Boolean));
    return setOp === "in" ? (l) => key! in l && values.has(l[key!]!) : (l) => !(key! in l) || !values.has(l[key!]!);
  });
  return (labels) => checks.every((c) => c(labels));
}
