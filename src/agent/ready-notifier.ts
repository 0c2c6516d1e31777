// Tells the service manager how the agent is doing, over sd_notify: READY=1 once the boot
// converge has run, a STATUS= line whenever the readiness summary changes, STOPPING=1 on
// SIGTERM. READY=1 means "started", not "the config is good": a service manager that waited
// for a good config would time the agent out and restart it, which cannot fix a config — the
// agent keeps the last-known-good in force and says why in STATUS= and /readyz instead.
//
// Without NOTIFY_SOCKET (Talos) nothing is sent. A failure to send is logged once per distinct
// error and never stops the agent.
import type { Logger } from "../base/log";
import type { AgentObserver } from "./observer";
import type { Readiness } from "./readiness";
import { sdNotify } from "./sd-notify";

export type Send = (message: string) => boolean;

export class ReadyNotifier implements AgentObserver {
  private started = false;
  private lastStatus = "";
  private lastError = "";

  constructor(
    private readonly readiness: Readiness,
    private readonly log: Logger,
    private readonly send: Send = (message) => sdNotify(message),
  ) {}

  /** The boot converge has run: READY=1 with the current status. */
  ready(): void {
    this.started = true;
    this.lastStatus = this.readiness.report().status;
    this.notify(`READY=1\nSTATUS=${this.lastStatus}`);
  }

  stopping(): void {
    this.notify("STOPPING=1\nSTATUS=stopping; the network is left as it is");
  }

  configRejected(): void {
    this.statusChanged();
  }
  configRefused(): void {
    this.statusChanged();
  }
  configInForce(): void {
    this.statusChanged();
  }
  configFileAccepted(): void {
    this.statusChanged();
  }
  converged(): void {
    this.statusChanged();
  }
  stateDirProblem(): void {
    this.statusChanged();
  }

  private statusChanged(): void {
    if (!this.started) return; // READY=1 carries the first status
    const status = this.readiness.report().status;
    if (status === this.lastStatus) return;
    this.lastStatus = status;
    this.notify(`STATUS=${status}`);
  }

  private notify(message: string): void {
    try {
      if (this.send(message)) this.log.debug("sd_notify", { message: message.replace(/\n/g, " ") });
    } catch (err) {
      const error = (err as Error).message;
      if (error !== this.lastError) this.log.warn("cannot tell the service manager", { error });
      this.lastError = error;
    }
  }
}
