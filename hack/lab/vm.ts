// The VM lab harness: boots qemu VMs (TCG, -cpu max) from Debian's kernel and the lab
// initramfs, wires their NICs NIC-to-NIC with UDP socket netdevs on 127.0.0.1 (virtual
// cables: no tap device, bridge or privilege, and no start order between the two ends), and
// runs commands in a VM over a virtio-serial control channel (protocol in guest-agent).
// Every wait has a deadline; every failure carries the VM's last console lines.
import { type Subprocess } from "bun";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ByteReader } from "./byte-reader";

const repo = resolve(import.meta.dir, "../..");
const cache = process.env.FOS1_CACHE ?? join(repo, ".cache");

export interface VmSpec {
  name: string;
  /** virtio NICs, named eth0… in the guest in this order. */
  nics: number;
  memoryMiB?: number;
  /** Extra kernel command-line words. */
  append?: string;
  bootTimeoutMs?: number;
}

/** A virtual cable between NIC a[1] of VM a[0] and NIC b[1] of VM b[0]. */
export interface CableSpec {
  a: [vm: string, nic: number];
  b: [vm: string, nic: number];
}

export interface RunOptions {
  stdin?: string | Uint8Array;
  /** Seconds before the guest kills the command (exit code 143). */
  timeoutSec?: number;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export class LabError extends Error {}

export function labKernel(): string {
  const boot = join(cache, "kernel", "current", "boot");
  const vmlinuz = existsSync(boot) ? readdirSync(boot).find((f) => f.startsWith("vmlinuz-")) : undefined;
  if (!vmlinuz) throw new LabError(`no lab kernel under ${boot}: run "make lab-image" (hack/setup fetches it)`);
  return join(boot, vmlinuz);
}

export function labImage(): string {
  const img = join(cache, "lab", "initramfs.cpio");
  if (!existsSync(img)) throw new LabError(`no lab image at ${img}: run "make lab-image"`);
  return img;
}

const running = new Set<Subprocess>();
process.on("exit", () => {
  for (const p of running) p.kill("SIGKILL");
});

export class LabVm {
  private reader?: ByteReader;
  private socket?: net.Socket;
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 1;
  /** Guest kernel uptime when the control agent reported ready, in seconds. */
  guestReadyAt = 0;
  /** Host wall time from qemu start to the agent's READY, in ms. */
  bootMs = 0;

  private constructor(
    readonly name: string,
    private readonly proc: Subprocess,
    private readonly dir: string,
  ) {}

  static async boot(spec: VmSpec, netdevs: string[][], workDir: string): Promise<LabVm> {
    const dir = join(workDir, spec.name);
    mkdirSync(dir, { recursive: true });
    const sock = join(dir, "ctl.sock");
    const argv = [
      "qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-m", String(spec.memoryMiB ?? 1024),
      "-nodefaults", "-display", "none", "-no-reboot", "-no-user-config",
      "-kernel", labKernel(), "-initrd", labImage(),
      "-append", `console=ttyS0 panic=-1 fos1_role=${spec.name} ${spec.append ?? ""}`.trim(),
      "-serial", `file:${join(dir, "console.log")}`,
      "-chardev", `socket,id=ctl,path=${sock},server=on,wait=off`,
      "-monitor", `unix:${join(dir, "monitor.sock")},server=on,wait=off`,
      "-device", "virtio-serial-pci", "-device", "virtserialport,chardev=ctl,name=fos1.ctl",
      ...netdevs.flat(),
    ];
    const started = performance.now();
    const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: Bun.file(join(dir, "qemu.log")) });
    running.add(proc);
    void proc.exited.then(() => running.delete(proc));
    const vm = new LabVm(spec.name, proc, dir);
    try {
      await vm.connect(sock, started + (spec.bootTimeoutMs ?? 60_000));
    } catch (err) {
      // A closed channel usually means qemu itself died: its own words say why.
      await Promise.race([proc.exited, Bun.sleep(500)]);
      const reason = proc.exitCode !== null ? vm.qemuExit() : (err as Error).message;
      vm.kill();
      throw vm.failure(`did not boot: ${reason}`);
    }
    vm.bootMs = Math.round(performance.now() - started);
    return vm;
  }

  private async connect(sock: string, deadline: number) {
    while (!existsSync(sock)) {
      if (this.proc.exitCode !== null) throw new Error(this.qemuExit());
      if (performance.now() > deadline) throw new Error("timed out waiting for qemu's control socket");
      await Bun.sleep(20);
    }
    this.socket = net.createConnection(sock);
    this.reader = new ByteReader(this.socket);
    const line = await this.reader.readLine(deadline, "the control agent's READY");
    const [word, uptime] = line.split(" ");
    if (word !== "READY") throw new Error(`unexpected first line from the control agent: ${line}`);
    this.guestReadyAt = Number(uptime);
  }

  /** Runs a shell script in the VM (busybox sh, iproute2's ip). Commands run one at a time. */
  run(script: string, opts: RunOptions = {}): Promise<RunResult> {
    const result = this.queue.then(() => this.exchange(script, opts));
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Like run, but a non-zero exit is an error showing the output and the console. */
  async runOk(script: string, opts: RunOptions = {}): Promise<string> {
    const r = await this.run(script, opts);
    if (r.exitCode !== 0)
      throw this.failure(`command failed with exit code ${r.exitCode}: ${script}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`);
    return r.stdout;
  }

  /** Copies content into the VM at path (folders created). */
  async put(path: string, content: string | Uint8Array, mode = "0644"): Promise<void> {
    await this.runOk(`mkdir -p "$(dirname '${path}')" && cat > '${path}' && chmod ${mode} '${path}'`, { stdin: content });
  }

  private async exchange(script: string, { stdin = "", timeoutSec = 60 }: RunOptions): Promise<RunResult> {
    if (!this.socket || !this.reader) throw new LabError(`${this.name}: not booted`);
    const id = this.nextId++;
    const body = new TextEncoder().encode(script);
    const input = typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin;
    this.socket.write(`RUN ${id} ${timeoutSec} ${body.length} ${input.length}\n`);
    this.socket.write(body);
    this.socket.write(input);
    // The guest enforces the timeout; the host allows for a slow TCG guest on top.
    const deadline = performance.now() + timeoutSec * 1000 + 15_000;
    try {
      const header = (await this.reader.readLine(deadline, `the result of: ${script}`)).split(/\s+/);
      if (header[0] !== "DONE" || header[1] !== String(id)) throw new Error(`unexpected reply: ${header.join(" ")}`);
      const [exitCode, outLen, errLen] = header.slice(2).map(Number) as [number, number, number];
      const stdout = (await this.reader.readBytes(outLen, deadline)).toString();
      const stderr = (await this.reader.readBytes(errLen, deadline)).toString();
      return { exitCode, stdout, stderr };
    } catch (err) {
      if (err instanceof LabError) throw err;
      throw this.failure((err as Error).message);
    }
  }

  private qemuExit(): string {
    const said = readFileSync(join(this.dir, "qemu.log"), "utf8").trim();
    return `qemu exited (code ${this.proc.exitCode})${said ? `: ${said}` : ""}`;
  }

  /** Plugs or unplugs NIC ethN's virtual cable at this VM's end (the guest sees carrier change). */
  async setLink(nic: number, up: boolean): Promise<void> {
    await hmp(join(this.dir, "monitor.sock"), `set_link n${nic} ${up ? "on" : "off"}`);
  }

  consoleTail(lines = 30): string {
    try {
      const text = readFileSync(join(this.dir, "console.log"), "utf8");
      return text.trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "(no console output)";
    }
  }

  private failure(message: string): LabError {
    return new LabError(`VM ${this.name}: ${message}\n--- last console lines of ${this.name}:\n${this.consoleTail()}`);
  }

  kill() {
    this.socket?.destroy();
    this.proc.kill("SIGKILL");
  }

  async shutdown(): Promise<void> {
    this.kill();
    await this.proc.exited;
  }
}

/** One command to qemu's human monitor; its reply is not needed. */
async function hmp(sock: string, command: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = net.createConnection(sock);
    const timer = setTimeout(() => (s.destroy(), reject(new LabError(`qemu monitor did not answer: ${command}`))), 5000);
    let seen = "";
    s.on("data", (d: Buffer) => {
      seen += d.toString();
      // The banner ends in a prompt; after the command, the next prompt means it is done.
      if (seen.split("(qemu)").length === 2) s.write(command + "\n");
      else if (seen.split("(qemu)").length > 2) {
        clearTimeout(timer);
        s.end();
        resolve();
      }
    });
    s.on("error", (e) => (clearTimeout(timer), reject(new LabError(`qemu monitor: ${e.message}`))));
  });
}

export class Lab {
  private constructor(
    readonly vms: Map<string, LabVm>,
    private readonly workDir: string,
  ) {}

  vm(name: string): LabVm {
    const vm = this.vms.get(name);
    if (!vm) throw new LabError(`no VM named ${name} in this lab`);
    return vm;
  }

  /** Boots every VM in parallel; if one fails, all are shut down and the error names it. */
  static async boot(vms: VmSpec[], cables: CableSpec[]): Promise<Lab> {
    const workDir = mkdtempSync(join(tmpdir(), "fos1-lab-"));
    const netdevs = await wire(vms, cables);
    const results = await Promise.allSettled(vms.map((spec) => LabVm.boot(spec, netdevs.get(spec.name)!, workDir)));
    const booted = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const failed = results.flatMap((r) => (r.status === "rejected" ? [r.reason as Error] : []));
    if (failed.length) {
      await Promise.all(booted.map((vm) => vm.shutdown()));
      throw new LabError(failed.map((e) => e.message).join("\n\n"));
    }
    return new Lab(new Map(booted.map((vm) => [vm.name, vm])), workDir);
  }

  /** Unplugs or plugs a whole cable: both ends lose or regain carrier. */
  async setCable(cable: CableSpec, up: boolean): Promise<void> {
    await Promise.all([cable.a, cable.b].map(([vm, nic]) => this.vm(vm).setLink(nic, up)));
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.vms.values()].map((vm) => vm.shutdown()));
    rmSync(this.workDir, { recursive: true, force: true });
  }
}

/** The standard lab: `router` (the system under test) and `peer` (the world), eth0–eth3 each, cable i joins router ethi to peer ethi. */
export function standardLab(nics = 4): { vms: VmSpec[]; cables: CableSpec[] } {
  return {
    vms: [{ name: "router", nics }, { name: "peer", nics }],
    cables: Array.from({ length: nics }, (_, i) => ({ a: ["router", i], b: ["peer", i] })),
  };
}

/** Predictable MACs: 52:54:00:00:<vm index>:<nic index>. */
export function labMac(vmIndex: number, nic: number): string {
  const hex = (n: number) => n.toString(16).padStart(2, "0");
  return `52:54:00:00:${hex(vmIndex + 1)}:${hex(nic)}`;
}

// Each NIC's qemu flags. Both ends of a cable get a UDP port; an unwired NIC sends to a port
// nobody reads. speed/duplex let 802.3ad form an aggregator (lab FACTS).
async function wire(vms: VmSpec[], cables: CableSpec[]): Promise<Map<string, string[][]>> {
  const ports = new Map<string, number>();
  const key = (vm: string, nic: number) => `${vm}/${nic}`;
  for (const spec of vms) for (let n = 0; n < spec.nics; n++) ports.set(key(spec.name, n), await freeUdpPort());
  const remote = new Map<string, number>();
  for (const { a, b } of cables) {
    for (const [vm, nic] of [a, b]) if (!ports.has(key(vm, nic))) throw new LabError(`cable end ${vm} eth${nic} does not exist`);
    remote.set(key(...a), ports.get(key(...b))!);
    remote.set(key(...b), ports.get(key(...a))!);
  }
  const sink = await freeUdpPort();
  return new Map(
    vms.map((spec, v) => [
      spec.name,
      Array.from({ length: spec.nics }, (_, n) => [
        "-netdev", `socket,id=n${n},localaddr=127.0.0.1:${ports.get(key(spec.name, n))},udp=127.0.0.1:${remote.get(key(spec.name, n)) ?? sink}`,
        "-device", `virtio-net-pci,netdev=n${n},mac=${labMac(v, n)},speed=1000,duplex=full`,
      ]),
    ]),
  );
}

async function freeUdpPort(): Promise<number> {
  const s = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
  const port = s.port;
  s.close();
  return port;
}
