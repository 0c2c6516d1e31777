// dnsmasq's own statistics, as it serves them: TXT records of the CHAOS class (hits.bind,
// misses.bind, cachesize.bind, …) asked of its DNS port on the loopback. One UDP exchange per
// name, the query and the answer in RFC 1035's wire form; nothing else of DNS is spoken here.
import { createSocket } from "node:dgram";

const CLASS_CHAOS = 3;
const TYPE_TXT = 16;

export interface DnsmasqStats {
  /** Answers from the cache. */
  hits: number;
  /** Queries that had to be forwarded (or answered otherwise than from the cache). */
  misses: number;
  cacheSize: number;
}

/** The statistics of the dnsmasq listening on server:53; throws when it does not answer within timeoutMs. */
export async function readDnsmasqStats(server = "127.0.0.1", timeoutMs = 1000): Promise<DnsmasqStats> {
  const [hits, misses, cacheSize] = await Promise.all(["hits.bind", "misses.bind", "cachesize.bind"].map((n) => chaosTxt(n, server, timeoutMs)));
  return { hits: Number(hits), misses: Number(misses), cacheSize: Number(cacheSize) };
}

export function chaosQuery(id: number, name: string): Uint8Array {
  const labels = name.split(".").flatMap((l) => [l.length, ...new TextEncoder().encode(l)]);
  const q = new Uint8Array(12 + labels.length + 1 + 4);
  const v = new DataView(q.buffer);
  v.setUint16(0, id);
  v.setUint16(4, 1); // one question
  q.set(labels, 12);
  v.setUint16(12 + labels.length + 1, TYPE_TXT);
  v.setUint16(12 + labels.length + 3, CLASS_CHAOS);
  return q;
}

/** The first TXT string of the answer to query id, or throws saying what was wrong with it. */
export function chaosAnswer(msg: Uint8Array, id: number): string {
  const v = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  if (msg.length < 12 || v.getUint16(0) !== id) throw new Error("not the answer to the question asked");
  if ((v.getUint16(2) & 0xf) !== 0) throw new Error(`dnsmasq answered with error code ${v.getUint16(2) & 0xf}`);
  if (v.getUint16(6) < 1) throw new Error("dnsmasq's answer holds no record");
  let at = 12;
  const skipName = () => {
    while (at < msg.length) {
      const len = msg[at]!;
      if (len === 0) return void at++;
      if ((len & 0xc0) === 0xc0) return void (at += 2);
      at += 1 + len;
    }
  };
  for (let q = v.getUint16(4); q > 0; q--) {
    skipName();
    at += 4;
  }
  skipName();
  at += 10; // type, class, ttl, rdlength
  const len = msg[at]!;
  return new TextDecoder().decode(msg.subarray(at + 1, at + 1 + len));
}

function chaosTxt(name: string, server: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(server.includes(":") ? "udp6" : "udp4");
    const id = Math.floor(Math.random() * 0xffff);
    const timer = setTimeout(() => done(new Error(`no answer from dnsmasq at ${server}:53 within ${timeoutMs} ms`)), timeoutMs);
    const done = (err: Error | null, value?: string) => {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(value!);
    };
    socket.on("message", (msg) => {
      try {
        done(null, chaosAnswer(new Uint8Array(msg), id));
      } catch (err) {
        done(err as Error);
      }
    });
    socket.on("error", (err) => done(err));
    socket.send(chaosQuery(id, name), 53, server);
  });
}
