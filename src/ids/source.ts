// Where Suricata's EVE records come from, as Suricata's eve-log `filetype` names them:
//   regular      a file (eve.json) that fos1 tails: EveFile (eve-file.ts)
//   unix_stream  a unix stream socket that Suricata connects to: EveStreamSocket (eve-socket.ts)
// Suricata's unix_dgram is not read: Bun has no unix datagram sockets (src/agent/sd-notify.ts
// says why fos1 sends its one datagram through libc); configure unix_stream instead.
import type { LineSink } from "./lines";

export interface EveHandler extends LineSink {
  /** The source opened (true) or closed/lost its file or socket (false); detail says which. */
  up(open: boolean, detail: string): void;
}

export interface EveSource {
  /** How it was given: "/var/log/suricata/eve.json" or "unix:/run/suricata/eve.sock". */
  readonly address: string;
  /** Reads until the signal aborts. Throws only when the source cannot be set up at all. */
  run(handler: EveHandler, signal: AbortSignal): Promise<void>;
}

export type EveAddress = { kind: "file"; path: string } | { kind: "unix_stream"; path: string };

/** --eve PATH | unix:PATH; throws a message that says what is allowed. */
export function parseEveAddress(text: string): EveAddress {
  if (text.startsWith("unix:")) {
    const path = text.slice("unix:".length);
    if (!path.startsWith("/")) throw new Error(`--eve ${text}: a unix socket is unix:/absolute/path (Suricata's eve-log filetype: unix_stream)`);
    return { kind: "unix_stream", path };
  }
  if (!text) throw new Error("--eve needs a file path or unix:/path");
  // "unix_dgram:/run/…", "udp:…": anything that looks like a scheme rather than a file.
  if (/^[^/]*:/.test(text)) throw new Error(`--eve ${text}: give a file path (Suricata's eve.json, filetype: regular) or unix:/path (filetype: unix_stream); unix_dgram and other outputs are not read`);
  return { kind: "file", path: text };
}
