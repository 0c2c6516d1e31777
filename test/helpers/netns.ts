// Network namespaces on this machine's kernel for tests (root needed): create one, run
// commands in it, read what the kernel holds, and remove it with every process left in it.
import { spawnSync } from "bun";

let counter = 0;

export interface KernelAddress {
  dev: string;
  cidr: string;
}

export interface KernelRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  table?: string;
}

export class Netns {
  private constructor(readonly name: string) {}

  static create(tag: string): Netns {
    const ns = new Netns(`fos1-${tag}-${process.pid}-${++counter}`);
    run(["ip", "netns", "add", ns.name]);
    ns.sh("ip link set lo up");
    return ns;
  }

  /** Runs a shell script in the namespace; throws with its output when it fails. */
  sh(script: string): string {
    return run(["ip", "netns", "exec", this.name, "sh", "-ec", script]);
  }

  /** Argv that runs a command in the namespace (for long-running processes). */
  argv(cmd: string[]): string[] {
    return ["ip", "netns", "exec", this.name, ...cmd];
  }

  addresses(): KernelAddress[] {
    const links = JSON.parse(this.sh("ip -json address show")) as { ifname: string; addr_info?: { local: string; prefixlen: number; scope: string }[] }[];
    return links.flatMap((l) => (l.addr_info ?? []).filter((a) => a.scope === "global").map((a) => ({ dev: l.ifname, cidr: `${a.local}/${a.prefixlen}` })));
  }

  hasAddress(dev: string, cidr: string): boolean {
    return this.addresses().some((a) => a.dev === dev && a.cidr === cidr);
  }

  routes(family: 4 | 6 = 4): KernelRoute[] {
    return JSON.parse(this.sh(`ip -json -${family} route show table all`)) as KernelRoute[];
  }

  hasRoute(family: 4 | 6, want: KernelRoute): boolean {
    return this.routes(family).some((r) => Object.entries(want).every(([k, v]) => r[k as keyof KernelRoute] === v));
  }

  pids(): number[] {
    return run(["ip", "netns", "pids", this.name]).split("\n").filter(Boolean).map(Number);
  }

  /** Kills what still runs in the namespace (only processes the test started there), then removes it. */
  destroy(): void {
    try {
      for (const pid of this.pids()) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    } finally {
      spawnSync(["ip", "netns", "del", this.name]);
    }
  }
}

function run(argv: string[]): string {
  const r = spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} failed (${r.exitCode}): ${r.stderr.toString().trim()}`);
  return r.stdout.toString();
}

/** Polls until check() holds; fails after timeoutMs with what was last seen. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000, seen?: () => unknown): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (performance.now() > deadline) {
      const last = seen ? await Promise.resolve(seen()).then((v) => (typeof v === "string" ? v : JSON.stringify(v instanceof Map ? [...v] : v, null, 1)), (e: Error) => `(could not read it: ${e.message})`) : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}${seen ? `\nlast seen: ${last}` : ""}`);
    }
    await Bun.sleep(50);
  }
}
