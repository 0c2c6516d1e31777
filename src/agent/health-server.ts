// The HTTP endpoints of fos1's long-running processes, the agent and the controller (Bun.serve):
// /healthz (the process answers), /readyz (the readiness report as JSON: 200 when ready, 503
// with the reasons when not) and /metrics (Prometheus text format). GET and HEAD only; nothing
// here changes anything.
//
// The agent's address may be one fos1 itself configures (a management address): it does not
// exist before the first converge. A listen that fails is therefore retried every few seconds,
// with one error logged, rather than ending the agent — a router without its metrics endpoint
// is better than a router whose network is not configured.
import type { Server } from "bun";
import type { Logger } from "../base/log";

export interface ListenAddress {
  /** An IPv4 or IPv6 literal. */
  host: string;
  port: number;
}

/** The report /readyz serves as it is: the agent's ReadinessReport, the controller's ControllerReadinessReport. */
export interface ReadinessAnswer {
  ready: boolean;
}

export interface HealthSources {
  readiness: () => ReadinessAnswer;
  metrics: () => Promise<string>;
  metricsContentType: string;
}

export const ENDPOINTS = ["/healthz", "/readyz", "/metrics"] as const;
const RETRY_MS = 5000;

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body, null, 1) + "\n", { status, headers: { "content-type": "application/json", ...headers } });

/** Answers one request; separate from the server so it can be exercised without a socket. */
export async function handleHealthRequest(req: Request, sources: HealthSources): Promise<Response> {
  // An HTTP/1.0 request without a Host header reaches here with a relative URL.
  const path = new URL(req.url, "http://localhost").pathname;
  if (!(ENDPOINTS as readonly string[]).includes(path)) return json({ error: `no such endpoint ${path}`, endpoints: ENDPOINTS }, 404);
  if (req.method !== "GET" && req.method !== "HEAD") return json({ error: `${req.method} is not allowed: the endpoints are read-only` }, 405, { allow: "GET, HEAD" });
  if (path === "/healthz") return json({ status: "ok" });
  if (path === "/readyz") {
    const report = sources.readiness();
    return json(report, report.ready ? 200 : 503);
  }
  return new Response(await sources.metrics(), { headers: { "content-type": sources.metricsContentType } });
}

export class HealthServer {
  private server: Server<undefined> | null = null;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private failedBefore = false;
  private stopped = false;

  constructor(
    private readonly listen: ListenAddress,
    private readonly sources: HealthSources,
    private readonly log: Logger,
  ) {}

  /** The address actually listened on (the port is known when 0 was asked for), or null while not listening. */
  get url(): string | null {
    return this.server ? this.server.url.href : null;
  }

  start(): void {
    if (this.stopped || this.server) return;
    const { host, port } = this.listen;
    try {
      this.server = Bun.serve({ hostname: host, port, fetch: (req) => handleHealthRequest(req, this.sources) });
      this.log.info("health and metrics endpoints listening", { url: this.url, endpoints: ENDPOINTS });
    } catch (err) {
      if (!this.failedBefore)
        this.log.error("cannot listen for the health and metrics endpoints; trying again every few seconds", { address: hostPort(this.listen), error: (err as Error).message, retryMs: RETRY_MS });
      this.failedBefore = true;
      this.retry = setTimeout(() => {
        this.retry = null;
        this.start();
      }, RETRY_MS);
    }
  }

  /** Closes the listening socket and open connections. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    const server = this.server;
    this.server = null;
    await server?.stop(true);
  }
}

export function hostPort(a: ListenAddress): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
