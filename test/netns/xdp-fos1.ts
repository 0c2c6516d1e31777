// fos1 (apply, agent, xdp …) run in the "far" namespace of the XDP tests: under
// `nsenter --net=…` (not `ip netns exec`, which remounts /sys and would hide /sys/fs/bpf), with
// its pins under a test root (FOS1_BPF_PIN_ROOT) and the object from dist/bpf (FOS1_BPF_DIR).
import { join, resolve } from "node:path";
import { XdpFilterMaps } from "../../src/bpf/xdp-filter";
import { logMessages } from "../helpers/fos1";
import { AgentProcess } from "./agent-process";
import { fos1Argv, run, type RunResult } from "./netns";

const repo = resolve(import.meta.dir, "../..");

/** `fos1 xdp status -o json`, as far as the tests read it. */
export interface XdpStatus {
  filters: { name: string; progId: number; interfaces: { ifname: string; mode: string }[]; counters: Record<string, { packets: string }> }[];
}

export interface XdpListed {
  entries: { filter: string; prefix: string; source: string; expires: string | null; packets: string }[];
}

export interface ApplyResult {
  writes: number;
  converged: boolean;
  ops: { phase: string; subject: string; detail?: string }[];
  failed: unknown[];
}

export class FarFos1 {
  private configs = 0;

  constructor(
    private readonly ns: string,
    readonly pinRoot: string,
    readonly stateDir: string,
    private readonly tmp: string,
  ) {}

  env(): Record<string, string> {
    return { FOS1_BPF_PIN_ROOT: this.pinRoot, FOS1_BPF_DIR: join(repo, "dist/bpf") };
  }

  /** argv that runs fos1 in the namespace with bpffs still visible. */
  argv(args: string[]): string[] {
    return ["nsenter", `--net=/run/netns/${this.ns}`, ...fos1Argv(args)];
  }

  /** A long-running fos1 command (["ids", "run"], ["agent"]) in the namespace, with bpffs visible. */
  spawn(command: string[], args: string[], env: Record<string, string> = {}): AgentProcess {
    const ns = { name: this.ns, argv: (cmd: string[]) => ["ip", "netns", "exec", this.ns, ...cmd] };
    return new AgentProcess(ns, args, { keepSys: true, command, env: { ...this.env(), ...env } });
  }

  run(args: string[]): Promise<RunResult> {
    return run(this.argv(args), { env: this.env() });
  }

  async json<T>(args: string[]): Promise<T> {
    const r = await this.run([...args, "-o", "json"]);
    if (r.exitCode !== 0) throw new Error(`fos1 ${args.join(" ")} exited ${r.exitCode}: ${logMessages(r)}\n${r.stdout}`);
    return JSON.parse(r.stdout) as T;
  }

  /** `fos1 apply` of the config text (written to a new file each time). */
  async apply(text: string): Promise<ApplyResult> {
    const file = join(this.tmp, `config-${++this.configs}.yaml`);
    await Bun.write(file, text);
    return this.json(["apply", "-f", file, "--state-dir", this.stateDir, "--force"]);
  }

  xdp(args: string[]): Promise<RunResult> {
    return this.run(["xdp", ...args, "--state-dir", this.stateDir]);
  }

  status(): Promise<XdpStatus> {
    return this.json(["xdp", "status"]);
  }

  async list(): Promise<XdpListed["entries"]> {
    return (await this.json<XdpListed>(["xdp", "list", "--state-dir", this.stateDir])).entries;
  }

  /** A filter's drop or pass counter, from `fos1 xdp status -o json`. */
  async counter(filter: string, reason: string): Promise<number> {
    const f = (await this.status()).filters.find((x) => x.name === filter);
    if (!f) throw new Error(`fos1 xdp status shows no filter ${filter}`);
    return Number(f.counters[reason]!.packets);
  }

  /** A filter's blocklist straight from its pinned maps, independent of the CLI. */
  pinnedBlocked(filter: string): string[] {
    const m = XdpFilterMaps.openPinned(join(this.pinRoot, "xdp", filter));
    try {
      return m.blocked().map((b) => b.prefix).sort();
    } finally {
      m.close();
    }
  }
}
