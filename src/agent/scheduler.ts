// Turns a stream of "something changed" signals into converges: debounced (a burst of netlink
// events, or an editor's several writes, gives one converge once it goes quiet for debounceMs,
// and a never-ending stream still converges every maxDelayMs), never two at once (signals
// that arrive while one runs are kept and give exactly one more run after it), and able to
// hold off for a while when the agent sees it is fighting someone.
export type RunFn = (reasons: string[]) => Promise<void>;

export class ConvergeScheduler {
  private reasons = new Set<string>();
  private firstAt = 0;
  private lastAt = 0;
  private holdUntil = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly maxDelayMs: number;

  constructor(
    private readonly run: RunFn,
    private readonly debounceMs: number,
    maxDelayMs?: number,
  ) {
    this.maxDelayMs = maxDelayMs ?? Math.max(2000, debounceMs * 10);
  }

  /** Something changed: converge once things are quiet. */
  request(reason: string): void {
    if (this.stopped) return;
    const now = performance.now();
    if (!this.reasons.size) this.firstAt = now;
    this.reasons.add(reason);
    this.lastAt = now;
    // Re-arming on every event would cost a timer per netlink message; the timer re-checks instead.
    if (!this.running && !this.timer) this.arm();
  }

  /** Runs at once (the first converge at start), still never beside another run. */
  async runNow(reason: string): Promise<void> {
    while (this.running) await this.running;
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.reasons.add(reason);
    this.fire();
    await this.running;
  }

  /** No converge before ms from now, whatever arrives. */
  holdFor(ms: number): void {
    this.holdUntil = Math.max(this.holdUntil, performance.now() + ms);
  }

  releaseHold(): void {
    this.holdUntil = 0;
    if (this.timer) {
      clearTimeout(this.timer);
      this.arm();
    }
  }

  /** Stops scheduling and waits for a converge that is running to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (this.running) await this.running;
  }

  private dueAt(): number {
    return Math.max(Math.min(this.lastAt + this.debounceMs, this.firstAt + this.maxDelayMs), this.holdUntil);
  }

  private arm(): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.stopped) return;
      if (performance.now() < this.dueAt()) this.arm(); // more events came, or a hold began
      else this.fire();
    }, Math.max(0, this.dueAt() - performance.now()));
  }

  private fire(): void {
    const reasons = [...this.reasons].sort();
    this.reasons.clear();
    this.running = this.run(reasons)
      .catch(() => {}) // run() reports its own failures; a rejection must not stop the loop
      .finally(() => {
        this.running = null;
        if (this.reasons.size && !this.stopped && !this.timer) this.arm();
      });
  }
}
