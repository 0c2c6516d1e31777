// Suricata's eve-log with `filetype: unix_stream` connects to a unix stream socket and writes
// one JSON record per line; it reconnects when the socket goes away. fos1 listens there. A
// socket file left by an earlier run is replaced (nothing else would be listening on it); a
// path that is some other file is an error, never removed. Each connection gets its own line
// bound; connections beyond MAX_CONNECTIONS (one per Suricata eve-log output is expected) are
// closed at once, so a runaway client cannot make fos1 hold unbounded buffers.
import { lstatSync, rmSync } from "node:fs";
import type { Socket, UnixSocketListener } from "bun";
import { DEFAULT_MAX_LINE_BYTES, LineSplitter } from "./lines";
import type { EveHandler, EveSource } from "./source";

const MAX_CONNECTIONS = 16;

interface Connection {
  lines: LineSplitter | null;
}

export class EveStreamSocket implements EveSource {
  readonly address: string;

  constructor(
    private readonly path: string,
    private readonly maxLineBytes = DEFAULT_MAX_LINE_BYTES,
  ) {
    this.address = `unix:${path}`;
  }

  async run(handler: EveHandler, signal: AbortSignal): Promise<void> {
    this.removeStaleSocket();
    let open = 0;
    let listener: UnixSocketListener<Connection>;
    try {
      listener = Bun.listen<Connection>({
        unix: this.path,
        socket: {
          open: (s: Socket<Connection>) => {
            if (open >= MAX_CONNECTIONS) {
              s.data = { lines: null };
              s.end();
              return;
            }
            open++;
            s.data = { lines: new LineSplitter(handler, this.maxLineBytes) };
          },
          data: (s: Socket<Connection>, chunk: Buffer) => s.data.lines?.push(chunk),
          close: (s: Socket<Connection>) => {
            if (!s.data.lines) return;
            s.data.lines.end();
            s.data.lines = null;
            open--;
          },
          error: () => {
            // The connection closes after its error; close() accounts for it.
          },
        },
      });
    } catch (err) {
      throw new Error(`cannot listen on ${this.address}: ${(err as Error).message}`);
    }
    handler.up(true, `listening on ${this.address} for Suricata (eve-log filetype: unix_stream)`);
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true })));
    listener.stop(true);
    rmSync(this.path, { force: true });
    handler.up(false, `stopped listening on ${this.address}`);
  }

  private removeStaleSocket(): void {
    let st;
    try {
      st = lstatSync(this.path);
    } catch {
      return;
    }
    if (!st.isSocket()) throw new Error(`${this.path} exists and is not a socket; fos1 listens there for Suricata's unix_stream output and will not remove another file`);
    rmSync(this.path);
  }
}
