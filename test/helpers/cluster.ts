// Helpers for the cluster tests: the FAKE API server (fake-apiserver.ts) serving every resource
// fos1's controllers use, a KubeApi on @kubernetes/client-node pointed at it, a quiet logger,
// and a generous wait for eventual consistency (a wait, not a timing assertion).
import { KubeConfig } from "@kubernetes/client-node";
import { ClientNodeKubeApi } from "../../src/cluster/kube-client";
import { EVENT, FOS1_RESOURCES, GENERATED_RESOURCES, LEASE, NODE } from "../../src/cluster/resources";
import { Logger } from "../../src/base/log";
import { FakeApiServer, type RequestAttributes } from "./fake-apiserver";

export function startFakeCluster(authorize?: (attributes: RequestAttributes) => boolean, hostname?: string): FakeApiServer {
  return new FakeApiServer([...FOS1_RESOURCES.map((r) => ({ ...r, statusSubresource: true })), ...GENERATED_RESOURCES, LEASE, EVENT, NODE], authorize, hostname);
}

export function kubeConfigFor(fake: FakeApiServer): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "fake", server: fake.url, skipTLSVerify: true }],
    users: [{ name: "test", token: "fake-token" }],
    contexts: [{ name: "fake", cluster: "fake", user: "test" }],
    currentContext: "fake",
  });
  return kc;
}

export function kubeApiFor(fake: FakeApiServer): ClientNodeKubeApi {
  return new ClientNodeKubeApi(kubeConfigFor(fake));
}

/** A logger that keeps its lines (printed by a failing test's message when useful). */
export function memoryLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: new Logger({ write: (l) => void lines.push(l), isTTY: false }, "debug"), lines };
}

/** Polls until probe returns something other than undefined/false; fails naming what it waited for. */
export async function eventually<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
    await Bun.sleep(50);
  }
}
