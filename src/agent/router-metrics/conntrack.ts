// Connection tracking as the kernel exposes it in /proc: how full the table is
// (nf_conntrack_count / nf_conntrack_max) and its entries (/proc/net/nf_conntrack), from which
// the top talkers are counted. The /proc table needs CONFIG_NF_CONNTRACK_PROCFS, which Talos's,
// Debian's and this machine's kernels set; reading it needs no tool in the extension (the
// conntrack program would bring libnetfilter_conntrack and friends along).
import { readFile } from "node:fs/promises";

export interface ConntrackUsage {
  entries: number;
  limit: number;
}

export interface ConntrackEntry {
  protocol: string;
  /** The original direction's source and destination (who opened the flow, and to whom). */
  src: string;
  dst: string;
  /** Both directions' bytes; null when the kernel does not count them (net.netfilter.nf_conntrack_acct=0). */
  bytes: number | null;
}

export interface Talker {
  address: string;
  connections: number;
  /** null when the kernel does not count bytes per connection. */
  bytes: number | null;
}

const SYSCTL = "/proc/sys/net/netfilter";

async function readNumber(path: string): Promise<number> {
  const text = (await readFile(path, "utf8")).trim();
  const n = Number(text);
  if (!/^\d+$/.test(text)) throw new Error(`${path} holds "${text}", not a count`);
  return n;
}

/** Throws when connection tracking is not loaded (the files are absent until nf_conntrack is). */
export async function readConntrackUsage(): Promise<ConntrackUsage> {
  const [entries, limit] = await Promise.all([readNumber(`${SYSCTL}/nf_conntrack_count`), readNumber(`${SYSCTL}/nf_conntrack_max`)]);
  return { entries, limit };
}

/** One line of /proc/net/nf_conntrack: "ipv4 2 tcp 6 117 ESTABLISHED src=… dst=… sport=… dport=… [packets=… bytes=…] src=… …". */
export function parseConntrackLine(line: string): ConntrackEntry | null {
  const fields = line.trim().split(/\s+/);
  const protocol = fields[2];
  let src: string | undefined, dst: string | undefined;
  let bytes: number | null = null;
  for (const f of fields) {
    const eq = f.indexOf("=");
    if (eq < 0) continue;
    const key = f.slice(0, eq), value = f.slice(eq + 1);
    if (key === "src") src ??= value;
    else if (key === "dst") dst ??= value;
    else if (key === "bytes") bytes = (bytes ?? 0) + Number(value);
  }
  if (!protocol || !src || !dst) return null;
  return { protocol, src, dst, bytes };
}

export function parseConntrackTable(text: string): ConntrackEntry[] {
  const out: ConntrackEntry[] = [];
  for (const line of text.split("\n")) {
    const e = line ? parseConntrackLine(line) : null;
    if (e) out.push(e);
  }
  return out;
}

/** Sources of the most traffic: by bytes when the kernel counts them, else by connections. */
export function topTalkers(entries: ConntrackEntry[], n: number): Talker[] {
  const by = new Map<string, Talker>();
  for (const e of entries) {
    const t = by.get(e.src) ?? { address: e.src, connections: 0, bytes: e.bytes === null ? null : 0 };
    t.connections++;
    if (e.bytes !== null) t.bytes = (t.bytes ?? 0) + e.bytes;
    by.set(e.src, t);
  }
  return [...by.values()]
    .sort((a, b) => (b.bytes ?? 0) - (a.bytes ?? 0) || b.connections - a.connections || a.address.localeCompare(b.address))
    .slice(0, n);
}

export async function readConntrackTable(): Promise<ConntrackEntry[]> {
  return parseConntrackTable(await readFile("/proc/net/nf_conntrack", "utf8"));
}
