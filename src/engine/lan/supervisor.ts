// Runs the LAN services' dnsmasq and keeps it serving what the engine asks: VyOS's get config →
// verify → generate → apply for a supervised daemon. The files are rendered (dnsmasq-config.ts),
// checked by dnsmasq itself (`dnsmasq --test`) before anything is replaced — a config it refuses
// changes nothing and the running one keeps serving — then written atomically. A change of the
// main file restarts dnsmasq (its leases are kept in the state dir and read back); a change of
// only static leases, options or names is a SIGHUP, with no gap in service. Upstream resolvers
// learned from the uplinks' DHCP go to the resolv file, which dnsmasq polls by itself.
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { InvalidInputError } from "../../base/errors";
import type { Logger } from "../../base/log";
import { runTool } from "../../base/tool";
import { writeFileAtomic } from "../../base/atomic-file";
import { Daemon } from "../daemon/supervisor";
import { asOneFileForCheck, fileNames, renderDnsmasq, type DnsmasqFiles } from "./dnsmasq-config";
import { isEmptyLan, type DesiredLan } from "./model";

export interface LanServicesOptions {
  /** fos1's folder for the LAN services: dnsmasq's generated files and its lease file. */
  dir: string;
  log: Logger;
  /** Path of dnsmasq; default: found on PATH, then /usr/sbin/dnsmasq. */
  dnsmasq?: string;
  backoff?: { initialMs: number; maxMs: number };
  stopTimeoutMs?: number;
}

const RELOADABLE = ["dhcpHosts", "dhcpOpts", "hosts"] as const;

export class LanServices {
  private readonly log: Logger;
  private readonly daemon: Daemon;
  private serving: { lan: DesiredLan; files: DnsmasqFiles } | null = null;

  constructor(private readonly opts: LanServicesOptions) {
    this.log = opts.log.with({ component: "lan" });
    this.daemon = new Daemon({
      program: "dnsmasq",
      purpose: "the LAN services (DHCP, router advertisements, DNS)",
      ...(opts.dnsmasq ? { binary: opts.dnsmasq } : {}),
      debianPackage: "dnsmasq-base",
      args: ["--keep-in-foreground", `--conf-file=${this.path("conf")}`],
      pidRecord: join(opts.dir, "dnsmasq.fos1-pid"),
      startedLine: /^dnsmasq(\[\d+\])?: started, version/,
      log: this.log,
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
      ...(opts.stopTimeoutMs !== undefined ? { stopTimeoutMs: opts.stopTimeoutMs } : {}),
    });
  }

  /** What it serves now (what it was last asked to serve, when that was taken). */
  running(): DesiredLan | undefined {
    return this.serving?.lan;
  }

  /** The pid of dnsmasq, when it runs. */
  get pid(): number | undefined {
    return this.daemon.pid;
  }

  /** Where dnsmasq keeps its leases. */
  get leaseFile(): string {
    return this.path("leases");
  }

  /**
   * Serves lan: nothing when it is what runs, a SIGHUP when only the reloadable files differ,
   * else a restart; stops dnsmasq when lan serves nothing. A config dnsmasq refuses throws
   * InvalidInputError with its reason and changes nothing.
   */
  converge(lan: DesiredLan): Promise<void> {
    return this.daemon.serial(async () => {
      if (isEmptyLan(lan)) {
        this.serving = null;
        await this.daemon.stop("no LAN service is configured any more");
        return;
      }
      const files = renderDnsmasq(lan, { dir: this.opts.dir });
      const before = this.serving?.files;
      if (before && same(before, files) && this.daemon.supervised) {
        this.serving = { lan, files };
        return;
      }
      await this.check(files);
      mkdirSync(this.opts.dir, { recursive: true });
      for (const name of RELOADABLE) if (!before || before[name] !== files[name]) writeFileAtomic(this.path(name), files[name]);
      if (!existsSync(this.path("resolv"))) writeFileAtomic(this.path("resolv"), "");
      const restart = !before || before.conf !== files.conf || !this.daemon.supervised;
      this.serving = { lan, files };
      if (restart) {
        writeFileAtomic(this.path("conf"), files.conf);
        await this.daemon.restart(before ? "its configuration changed" : "LAN services configured");
      } else {
        this.log.info("dnsmasq reads its static leases, options and names again", { pid: this.daemon.pid });
        this.daemon.signal("SIGHUP");
      }
    });
  }

  /** The upstream resolvers learned from the uplinks' DHCP leases (used when the resolver names no forwarders). */
  setUpstream(servers: string[]): void {
    const text = servers.map((s) => `nameserver ${s}\n`).join("");
    const path = this.path("resolv");
    if (existsSync(this.opts.dir) && (!existsSync(path) || readFileSync(path, "utf8") !== text)) {
      writeFileAtomic(path, text);
      this.log.info("upstream resolvers from the uplinks' DHCP", { servers });
    }
  }

  /** Stops dnsmasq cleanly (the agent stopping); its leases stay in the lease file for the next start. */
  stop(): Promise<void> {
    return this.daemon.serial(async () => {
      this.serving = null;
      await this.daemon.stop("fos1 stops the LAN services");
    });
  }

  private path(name: keyof typeof fileNames): string {
    return join(this.opts.dir, fileNames[name]);
  }

  /** dnsmasq's own checker on the files as they would be, in a folder of their own; the message names the line it refused. */
  private async check(files: DnsmasqFiles): Promise<void> {
    const dir = join(this.opts.dir, "check");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    try {
      const conf = asOneFileForCheck({ ...files, conf: files.conf.split(this.opts.dir + "/").join(dir + "/") });
      const path = join(dir, fileNames.conf);
      writeFileAtomic(path, conf);
      for (const name of RELOADABLE) writeFileAtomic(join(dir, fileNames[name]), files[name]);
      writeFileAtomic(join(dir, fileNames.resolv), "");
      const r = await runTool({ purpose: "check the LAN services' config", argv: [this.opts.dnsmasq ?? "dnsmasq", "--test", `--conf-file=${path}`] });
      if (r.exitCode === 0) return;
      const said = (r.stderr || r.stdout).trim().replace(/^dnsmasq: /, "");
      const line = Number(/ at line (\d+) of /.exec(said)?.[1]);
      const where = line ? `: ${conf.split("\n")[line - 1]}` : "";
      throw new InvalidInputError(`dnsmasq refused the LAN services' config (${said.replace(/ at line \d+ of \S+/, "")}${where}); the running services keep serving as they are`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

const same = (a: DnsmasqFiles, b: DnsmasqFiles) => a.conf === b.conf && RELOADABLE.every((n) => a[n] === b[n]);
