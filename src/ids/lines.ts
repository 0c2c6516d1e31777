// Newline-delimited records out of a byte stream (a tailed file, a unix stream connection),
// with a bound on a line's length: a writer that never sends a newline, or one huge record,
// costs at most maxBytes of memory, and the rest of that line is skipped up to its newline.

export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

export interface LineSink {
  line(text: string): void;
  /** A line longer than the bound was skipped (counted once, however long it was). */
  overlong(): void;
}

export class LineSplitter {
  private parts: Buffer[] = [];
  private held = 0;
  /** Inside a line already found too long: everything up to the next newline is dropped. */
  private skipping = false;

  constructor(
    private readonly sink: LineSink,
    private readonly maxBytes = DEFAULT_MAX_LINE_BYTES,
  ) {}

  push(chunk: Uint8Array): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) {
        this.hold(chunk.subarray(start));
        return;
      }
      this.hold(chunk.subarray(start, nl));
      this.emit();
      start = nl + 1;
    }
  }

  /** The stream ended: a last line without its newline is still a line (or a torn one). */
  end(): void {
    if (this.held > 0 || this.skipping) this.emit();
  }

  private hold(bytes: Uint8Array): void {
    if (this.skipping || bytes.length === 0) return;
    if (this.held + bytes.length > this.maxBytes) {
      this.parts = [];
      this.held = 0;
      this.skipping = true;
      this.sink.overlong();
      return;
    }
    // Copied: the caller reuses its read buffer.
    this.parts.push(Buffer.from(bytes));
    this.held += bytes.length;
  }

  private emit(): void {
    if (this.skipping) {
      this.skipping = false;
      return;
    }
    const text = Buffer.concat(this.parts, this.held).toString("utf8");
    this.parts = [];
    this.held = 0;
    const line = text.endsWith("\r") ? text.slice(0, -1) : text;
    if (line.trim()) this.sink.line(line);
  }
}
