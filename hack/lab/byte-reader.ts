// Reads lines and exact byte counts from a stream socket, each read with a deadline.
import type net from "node:net";

export class ByteReader {
  private buf = Buffer.alloc(0);
  private closed = false;
  private wake: (() => void) | undefined;

  constructor(socket: net.Socket) {
    socket.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    const close = () => {
      this.closed = true;
      this.wake?.();
    };
    socket.on("close", close);
    socket.on("error", close);
  }

  async readLine(deadline: number, what: string): Promise<string> {
    for (;;) {
      const nl = this.buf.indexOf(10);
      if (nl >= 0) {
        const line = this.buf.subarray(0, nl).toString();
        this.buf = this.buf.subarray(nl + 1);
        return line;
      }
      await this.more(deadline, what);
    }
  }

  async readBytes(n: number, deadline: number): Promise<Buffer> {
    while (this.buf.length < n) await this.more(deadline, `${n} bytes of output`);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  private more(deadline: number, what: string): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`control channel closed while waiting for ${what}`));
    const left = deadline - performance.now();
    if (left <= 0) return Promise.reject(new Error(`timed out waiting for ${what}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        reject(new Error(`timed out waiting for ${what}`));
      }, left);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }
}
