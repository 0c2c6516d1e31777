// A Talos system extension's service, run in a lab VM the way Talos v1.13 runs it
// (machined's ExtensionServiceController and services/extension.go, then containerd and runc):
//
//   - the image's rootfs/ is laid over the VM's / (the spec at /usr/local/etc/containers/NAME.yaml,
//     the service's root at /usr/local/lib/containers/NAME/);
//   - each ExtensionServiceConfig file is written on the host under
//     /system/overlays/extensions/NAME/ (its mount path with "/" turned into "-") and bound
//     read-only at its mount path in the service; when the config changes, Talos restarts the
//     service;
//   - the container: the host's network and IPC namespaces, its own mount and PID namespaces
//     (the entrypoint is PID 1), all capabilities (root in the VM), containerd's default mounts
//     (proc, a /dev tmpfs with the default device nodes, devpts, shm, sysfs read-only), then the
//     spec's mounts in order (a missing source created first, as Talos does), then the config
//     files, the spec's readonlyPaths, and the root made read-only; the spec's environment only,
//     cwd /, then the entrypoint with the spec's args;
//   - stop: SIGTERM to the container's PID 1, whose exit ends everything in its PID namespace.
//
// Not modelled: cgroups, containerd's masked paths and /dev/mqueue, restart policies (the test
// starts and stops the service itself), and the spec's `depends` (the config file is written
// before the start). The lab adds one thing Talos does not: NOTIFY_SOCKET, so the test hears
// sd_notify; its folder is bound into the service's root by the lab (the spec binds only
// /run/dhcpcd of /run).
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parse } from "yaml";
import type { LabVm } from "../../hack/lab/vm";
import { waitUntil } from "../helpers/netns";

const repo = resolve(import.meta.dir, "../..");

interface ServiceMount {
  source: string;
  destination: string;
  type: string;
  options?: string[];
}

/** The fields of an extension service spec this runner acts on (hack/extension/talos-rules.ts checks them all). */
interface ServiceSpec {
  name: string;
  container: {
    entrypoint: string;
    args?: string[];
    environment?: string[];
    mounts?: ServiceMount[];
    security?: { readonlyPaths?: string[]; writeableRootfs?: boolean; writeableSysfs?: boolean };
  };
}

export const specPath = (name: string) => `/usr/local/etc/containers/${name}.yaml`;
export const serviceRoot = (name: string) => `/usr/local/lib/containers/${name}`;
/** Where Talos writes an ExtensionServiceConfig file of service NAME on the host. */
const configFileSource = (name: string, mountPath: string) => `/system/overlays/extensions/${name}/${mountPath.slice(1).replaceAll("/", "-")}`;

/**
 * Builds the extension image (hack/extension/build, what `make extension` runs, from the
 * current dist/) into a folder of its own and unpacks it with umoci, as a consumer of OCI
 * images would: returns the image's filesystem (manifest.yaml, rootfs/) and a cleanup.
 */
export function buildAndUnpackExtension(): { image: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "fos1-ext-"));
  const run = (argv: string[]) => {
    const r = Bun.spawnSync(argv, { cwd: repo, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} failed (exit ${r.exitCode}):\n${r.stdout.toString()}${r.stderr.toString()}`);
  };
  try {
    const layout = join(dir, "layout");
    mkdirSync(layout);
    run(["hack/extension/build", join(dir, "image.tar")]);
    run(["tar", "-xf", join(dir, "image.tar"), "-C", layout]);
    const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as { manifests: { annotations?: Record<string, string> }[] };
    const tag = index.manifests[0]?.annotations?.["org.opencontainers.image.ref.name"];
    if (!tag) throw new Error(`the image's index.json names no tag: ${JSON.stringify(index)}`);
    run(["umoci", "unpack", "--image", `${layout}:${tag}`, join(dir, "bundle")]);
    return { image: join(dir, "bundle", "rootfs"), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** The image's rootfs/ as an uncompressed tar, to be unpacked at / in a VM. */
export function rootfsTar(image: string): Uint8Array {
  const r = Bun.spawnSync(["tar", "-C", join(image, "rootfs"), "--numeric-owner", "-cf", "-", "."], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`tar of ${image}/rootfs failed: ${r.stderr.toString()}`);
  return r.stdout;
}

function parseServiceSpec(text: string, file: string): ServiceSpec {
  const spec = parse(text) as ServiceSpec;
  if (typeof spec?.name !== "string" || typeof spec.container?.entrypoint !== "string") throw new Error(`${file}: not a service spec with name and container.entrypoint`);
  return spec;
}

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

const PROPAGATION = new Set(["shared", "rshared", "slave", "rslave", "private", "rprivate"]);

/** The shell for one bind mount of the spec, as runc does it: bind, propagation, then read-only if asked. */
function bindMount(m: ServiceMount, root: string): string[] {
  if (m.type !== "bind") throw new Error(`mount ${m.destination}: type ${m.type} is not modelled by the lab's runner (only bind)`);
  const options = m.options ?? [];
  const unknown = options.filter((o) => !["bind", "rbind", "ro", "rw", ...PROPAGATION].includes(o));
  if (unknown.length) throw new Error(`mount ${m.destination}: options ${unknown.join(", ")} are not modelled by the lab's runner`);
  const dst = quote(root + m.destination);
  return [
    // runc creates a missing mount point: a folder for a folder, an empty file for a file.
    `if [ -d ${quote(m.source)} ]; then mkdir -p ${dst}; else mkdir -p "$(dirname ${dst})" && touch ${dst}; fi`,
    `mount -o ${options.includes("rbind") ? "rbind" : "bind"} ${quote(m.source)} ${dst}`,
    ...options.filter((o) => PROPAGATION.has(o)).map((o) => `mount --make-${o} ${dst}`),
    ...(options.includes("ro") ? [`mount -o remount,bind,ro ${dst}`] : []),
  ];
}

/**
 * The script (busybox sh) that runs as PID 1 of the service's new mount and PID namespaces:
 * sets up the container's mounts, then execs the entrypoint chrooted into the service's root.
 * configFiles are the ExtensionServiceConfig files' mount paths; env is added to the spec's.
 */
function containerScript(spec: ServiceSpec, configFiles: string[], env: string[], labDirs: string[]): string {
  const root = serviceRoot(spec.name);
  const r = quote(root);
  const c = spec.container;
  if (c.security?.writeableRootfs || c.security?.writeableSysfs) throw new Error("writeable rootfs or sysfs is not modelled by the lab's runner");
  const devices = [["null", 1, 3], ["zero", 1, 5], ["full", 1, 7], ["random", 1, 8], ["urandom", 1, 9], ["tty", 5, 0]] as const;
  return [
    "set -e",
    // The root is bound onto itself so it can be made read-only at the end, as containerd does.
    `mount -o bind ${r} ${r}`,
    `mount -t proc -o nosuid,noexec,nodev proc ${r}/proc`,
    `mount -t tmpfs -o nosuid,strictatime,mode=755,size=65536k tmpfs ${r}/dev`,
    ...devices.map(([name, major, minor]) => `mknod -m 666 ${r}/dev/${name} c ${major} ${minor}`),
    `mkdir ${r}/dev/pts ${r}/dev/shm`,
    `mount -t devpts -o nosuid,noexec,newinstance,ptmxmode=0666,mode=0620 devpts ${r}/dev/pts`,
    `mount -t tmpfs -o nosuid,noexec,nodev,mode=1777,size=65536k shm ${r}/dev/shm`,
    `ln -s pts/ptmx ${r}/dev/ptmx && ln -s /proc/self/fd ${r}/dev/fd`,
    `ln -s /proc/self/fd/0 ${r}/dev/stdin && ln -s /proc/self/fd/1 ${r}/dev/stdout && ln -s /proc/self/fd/2 ${r}/dev/stderr`,
    `mount -t sysfs -o nosuid,noexec,nodev,ro sysfs ${r}/sys`,
    ...(c.mounts ?? []).flatMap((m) => [`[ -e ${quote(m.source)} ] || mkdir -p -m 0700 ${quote(m.source)}`, ...bindMount(m, root)]),
    ...configFiles.flatMap((path) => bindMount({ source: configFileSource(spec.name, path), destination: path, type: "bind", options: ["ro", "bind"] }, root)),
    // The lab's own additions (the notify socket's folder), which Talos does not give.
    ...labDirs.flatMap((dir) => bindMount({ source: dir, destination: dir, type: "bind", options: ["bind", "rw"] }, root)),
    ...(c.security?.readonlyPaths ?? []).map((p) => `if [ -e ${quote(root + p)} ]; then mount -o bind ${quote(root + p)} ${quote(root + p)} && mount -o remount,bind,ro ${quote(root + p)}; fi`),
    `mount -o remount,bind,ro ${r}`,
    `exec env -i ${[...(c.environment ?? []), ...env].map(quote).join(" ")} /usr/bin/chroot ${r} ${[c.entrypoint, ...(c.args ?? [])].map(quote).join(" ")}`,
  ].join("\n");
}

/** The lab's own files for the service: outside the service's view, except the notify socket. */
const LAB_DIR = "/lab/extension-service";
const NOTIFY_SOCKET = "/run/fos1-lab/notify.sock";

/** One extension service in a VM: started, stopped and heard as Talos (and a service manager) would. */
export class LabExtensionService {
  private constructor(
    readonly vm: LabVm,
    readonly spec: ServiceSpec,
  ) {}

  /** The service's stdout and stderr (Talos's `talosctl logs ext-NAME`). */
  readonly logFile = `${LAB_DIR}/service.log`;

  /**
   * Writes the container script for the spec in the VM (its root and spec must already be laid
   * out) and starts the sd_notify listener (notify-socket.ts, bundled) on NOTIFY_SOCKET.
   */
  static async install(vm: LabVm, name: string, configFiles: string[]): Promise<LabExtensionService> {
    const spec = parseServiceSpec(await vm.runOk(`cat ${specPath(name)}`), `${vm.name}:${specPath(name)}`);
    const service = new LabExtensionService(vm, spec);
    const bundle = await Bun.build({ entrypoints: [join(import.meta.dir, "notify-socket.ts")], target: "bun" });
    if (!bundle.success) throw new Error(`cannot bundle notify-socket.ts: ${bundle.logs.join("\n")}`);
    await vm.put(`${LAB_DIR}/notify-socket.js`, await bundle.outputs[0]!.text());
    await vm.put(`${LAB_DIR}/container.sh`, containerScript(spec, configFiles, [`NOTIFY_SOCKET=${NOTIFY_SOCKET}`], [dirname(NOTIFY_SOCKET)]));
    await vm.runOk(
      [
        `mkdir -p "$(dirname ${NOTIFY_SOCKET})"`,
        `(BUN_BE_BUN=1 setsid fos1 ${LAB_DIR}/notify-socket.js ${NOTIFY_SOCKET} >${LAB_DIR}/notify.log 2>&1 &)`,
        `i=0; until grep -qx bound ${LAB_DIR}/notify.log; do i=$((i+1)); [ $i -lt 300 ] || { cat ${LAB_DIR}/notify.log; exit 1; }; sleep 0.2; done`,
      ].join("\n"),
      { timeoutSec: 90 },
    );
    return service;
  }

  /** Writes an ExtensionServiceConfig file where Talos keeps it (atomically: a new file renamed over the old). */
  async writeConfigFile(mountPath: string, content: string): Promise<void> {
    const source = configFileSource(this.spec.name, mountPath);
    await this.vm.put(`${source}.new`, content);
    await this.vm.runOk(`mv ${source}.new ${source}`);
  }

  /** Starts the container (in the background); its exit code lands in service.rc. */
  async start(): Promise<void> {
    await this.vm.runOk(
      [
        `rm -f ${LAB_DIR}/service.rc ${LAB_DIR}/unshare.pid`,
        `(setsid sh -c 'unshare -m -p -f sh ${LAB_DIR}/container.sh & echo $! >${LAB_DIR}/unshare.pid; wait $!; echo $? >${LAB_DIR}/service.rc' >>${this.logFile} 2>&1 &)`,
        `i=0; until [ -s ${LAB_DIR}/unshare.pid ]; do i=$((i+1)); [ $i -lt 100 ] || exit 1; sleep 0.1; done`,
      ].join("\n"),
    );
  }

  /** SIGTERM to the container's PID 1, as containerd stops it; waits for the exit and returns its code. */
  async stop(timeoutSec = 60): Promise<number> {
    const out = await this.vm.run(
      [
        `u=$(cat ${LAB_DIR}/unshare.pid)`,
        // unshare -f forks the namespace's PID 1 (the shell that execs into the entrypoint) and waits for it.
        `init=$(cat /proc/$u/task/$u/children)`,
        `[ -n "$init" ] || { echo "no container process under unshare $u"; exit 1; }`,
        `kill -TERM $init`,
        `i=0; until [ -s ${LAB_DIR}/service.rc ]; do i=$((i+1)); [ $i -lt ${timeoutSec * 5} ] || { echo "still running ${timeoutSec} s after SIGTERM"; exit 1; }; sleep 0.2; done`,
        `cat ${LAB_DIR}/service.rc`,
      ].join("\n"),
      { timeoutSec: timeoutSec + 10 },
    );
    if (out.exitCode !== 0) throw new Error(`stopping ${this.spec.name}: ${out.stdout}${out.stderr}\n--- service log\n${await this.logTail()}`);
    return Number(out.stdout.trim());
  }

  /** Every datagram received on NOTIFY_SOCKET so far, in order. */
  async notifications(): Promise<string[]> {
    const out = await this.vm.runOk(`cat ${LAB_DIR}/notify.log`);
    return out.split("\n").filter((l) => l.startsWith('"')).map((l) => JSON.parse(l) as string);
  }

  /** Waits for a notification after the first `after` that holds the line `want`; returns it. */
  async waitForNotification(want: string, after: number, timeoutMs = 180_000): Promise<string> {
    let seen: string[] = [];
    const find = () => seen.slice(after).find((m) => m.split("\n").includes(want));
    const arrivedOrExited = async () => {
      const exited = !(await this.running());
      seen = await this.notifications();
      return find() !== undefined || exited;
    };
    await waitUntil(`a notification with ${want} from ${this.spec.name}`, arrivedOrExited, timeoutMs, () => seen.slice(after)).catch(async (err: Error) => {
      throw new Error(`${err.message}\n--- service log\n${await this.logTail()}`);
    });
    const found = find();
    if (!found) throw new Error(`${this.spec.name} exited before sending ${want}; it sent ${JSON.stringify(seen.slice(after))}\n--- service log\n${await this.logTail()}`);
    return found;
  }

  private async running(): Promise<boolean> {
    return (await this.vm.run(`[ ! -e ${LAB_DIR}/service.rc ]`)).exitCode === 0;
  }

  async logTail(lines = 40): Promise<string> {
    return (await this.vm.run(`tail -n ${lines} ${this.logFile}`)).stdout;
  }
}

/** An HTTP GET inside the VM (busybox nc: unlike busybox wget, it shows the body of a 503). */
export async function httpGet(vm: LabVm, host: string, port: number, path: string): Promise<{ status: number; body: string }> {
  const out = await vm.runOk(`printf 'GET ${path} HTTP/1.0\\r\\nHost: ${host}:${port}\\r\\n\\r\\n' | nc ${host} ${port}`, { timeoutSec: 30 });
  const m = /^HTTP\/1\.[01] (\d{3})[^\n]*\n[\s\S]*?\r?\n\r?\n([\s\S]*)$/.exec(out);
  if (!m) throw new Error(`GET http://${host}:${port}${path} in ${vm.name}: not an HTTP response:\n${out}`);
  return { status: Number(m[1]), body: m[2]! };
}
