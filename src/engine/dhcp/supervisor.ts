// Runs one dhcpcd (Debian's dhcpcd-base 9.4, shipped beside fos1) in manager mode for every
// uplink that asks for DHCP, and keeps it matching the engine's specs: started, restarted with
// backoff when it dies, restarted when its config changes, left alone when nothing changed,
// and stopped cleanly.
//
// Files. fos1 owns <stateDir>/dhcpcd.conf (the generated config) and <stateDir>/dhcpcd.pid (the
// pid fos1 started, to find a dhcpcd left behind by a crashed fos1). dhcpcd 9.4 has no option
// to move its own files: its pid file and control socket are in /run/dhcpcd and its leases,
// DUID and secret in /var/lib/dhcpcd, compiled in. Both are writable on Talos (/run is tmpfs,
// /var the persistent EPHEMERAL partition, so the DUID and leases survive reboots and the ISP
// hands back the same addresses and prefix). The fixed pid file also means one dhcpcd manager
// per host: another one (a distribution's service) makes start fail with a message saying so.
//
// No hook script runs (see config.ts): dhcpcd itself installs addresses and routes; DNS servers
// and the rest of the lease are read back from its lease files (status(); see lease.ts).
//
// Stopping. SIGTERM makes dhcpcd remove what it installed (addresses, routes, the delegated
// /64s on the LAN side) without releasing the leases, so a restart gets the same ones back.
// The engine ignores dynamic addresses, so nothing else would ever remove them.
//
// Privileges. dhcpcd runs with its privilege separation (the "dhcpcd" user: fos1's image and the
// lab name it) and only the capabilities privileges.ts lists, through setpriv.
//
// Process group. dhcpcd runs in its own session (detached). With privilege separation it forks
// helpers that outlive a SIGKILLed manager and keep the DHCPv6 port bound, which breaks the next
// start; after every exit fos1 kills what is left of the group (src/engine/daemon/supervisor.ts,
// which supervises the process).
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { OperationError } from "../../base/errors";
import type { Logger } from "../../base/log";
import { runToolOk } from "../../base/tool";
import { writeFileAtomic } from "../../base/atomic-file";
import { Daemon, isProgram, readPid } from "../daemon/supervisor";
import { renderDhcpcdConfig } from "./config";
import { boundingSetProblem, DHCPCD_USER, dhcpcdLauncher } from "./privileges";
import { buildStatus, parseLease4, parseLease6, type LeaseDump } from "./lease";
import type { DhcpClientSpec, DhcpLeaseStatus, ScreenedRoutes } from "./spec";
import { classlessRouteBatch, connectedNetworks, FOS1_DHCP_ROUTE_PROTO, screenClasslessRoutes, type InstalledRoute } from "./static-routes";

/** dhcpcd 9.4's manager pid file (RUNDIR is compiled in). */
const DHCPCD_PIDFILE = "/run/dhcpcd/pid";
/** How often the option-121 routes follow the leases (a renewal rewrites the lease file). */
const ROUTE_SYNC_MS = 3000;

export interface DhcpSupervisorOptions {
  /** fos1's own files for DHCP: the generated config and the pid of the dhcpcd it started. */
  stateDir: string;
  /** Path of dhcpcd; default: found on PATH, then /usr/sbin/dhcpcd. */
  dhcpcd?: string;
  /** Path of util-linux's setpriv, which starts dhcpcd with fewer capabilities; default: found on PATH, then /usr/bin/setpriv. */
  setpriv?: string;
  log: Logger;
  /** dhcpcd's lease directory (its compiled-in DBDIR; default /var/lib/dhcpcd). */
  leaseDir?: string;
  /** Delay before the first restart after dhcpcd dies, doubled each time up to maxMs. */
  backoff?: { initialMs: number; maxMs: number };
  /** How long dhcpcd may take to deconfigure and exit on SIGTERM before it is killed. */
  stopTimeoutMs?: number;
  /** How long to wait for dhcpcd to say it started before converge returns anyway. */
  startTimeoutMs?: number;
}

export class DhcpSupervisor {
  private readonly log: Logger;
  private readonly leaseDir: string;
  private readonly daemon: Daemon;
  private specs: DhcpClientSpec[] = [];
  /** The config dhcpcd should run with; "" when it should not run. */
  private config = "";
  /** Per uplink with classlessStaticRoutes: its lease's option 121 as last screened. */
  private screened = new Map<string, ScreenedRoutes>();
  private routeTimer?: ReturnType<typeof setInterval>;
  /** Route syncs run one after another; a sync asked for while one waits is that one. */
  private routeQueue: Promise<void> = Promise.resolve();
  private routeSyncWaiting = false;

  constructor(private readonly opts: DhcpSupervisorOptions) {
    this.log = opts.log.with({ component: "dhcp" });
    this.leaseDir = opts.leaseDir ?? "/var/lib/dhcpcd";
    this.daemon = new Daemon({
      program: "dhcpcd",
      purpose: "the DHCP client",
      ...(opts.dhcpcd ? { binary: opts.dhcpcd } : {}),
      debianPackage: "dhcpcd-base",
      args: ["--nobackground", "--manager", "--config", this.configPath],
      pidRecord: join(opts.stateDir, "dhcpcd.pid"),
      startedLine: /^dhcpcd-\S+ starting$/,
      beforeStart: refuseForeignManager,
      launcher: dhcpcdLauncher(opts.setpriv ?? Bun.which("setpriv") ?? "/usr/bin/setpriv"),
      // Without its user (a root that does not name it), dhcpcd runs everything as root and says
      // only "no such user dhcpcd": say what that costs.
      relay: (line, pid) =>
        line === `no such user ${DHCPCD_USER}`
          ? this.log.warn(`dhcpcd runs without privilege separation: there is no user ${DHCPCD_USER}, so the process that parses the servers' messages keeps root`, { pid })
          : this.log.info(line, { program: "dhcpcd", pid }),
      log: this.log,
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
      ...(opts.stopTimeoutMs !== undefined ? { stopTimeoutMs: opts.stopTimeoutMs } : {}),
      ...(opts.startTimeoutMs !== undefined ? { startTimeoutMs: opts.startTimeoutMs } : {}),
    });
  }

  get configPath(): string {
    return join(this.opts.stateDir, "dhcpcd.conf");
  }

  /** The pid of the running dhcpcd manager, if any. */
  get pid(): number | undefined {
    return this.daemon.pid;
  }

  /** The specs dhcpcd was last asked to run with (empty: it is not to run). */
  running(): DhcpClientSpec[] {
    return this.specs;
  }

  /**
   * Makes dhcpcd match specs: starts it, restarts it when its config changes, stops it when
   * specs is empty, and does nothing when nothing changed. Invalid specs throw
   * InvalidInputError and change nothing. If dhcpcd cannot start, this throws an
   * OperationError, and the supervisor keeps retrying with backoff.
   */
  converge(specs: DhcpClientSpec[]): Promise<void> {
    return this.daemon.serial(async () => {
      const config = specs.length ? renderDhcpcdConfig(specs) : "";
      if (config === this.config && (config === "" || this.daemon.supervised)) {
        this.log.debug("DHCP client configuration unchanged");
        this.specs = specs;
        this.followRoutes();
        return;
      }
      const served = this.specs;
      this.specs = specs;
      this.config = config;
      this.followRoutes();
      if (!config) {
        await this.removeLeftovers(served, await this.daemon.stop("no interface asks for DHCP any more"));
        return;
      }
      mkdirSync(this.opts.stateDir, { recursive: true });
      writeFileAtomic(this.configPath, config);
      await this.daemon.restart("its configuration changed");
      this.checkPrivileges();
    });
  }

  /** Stops dhcpcd (which removes what it installed) and stops supervising it. */
  stop(): Promise<void> {
    return this.daemon.serial(async () => {
      const served = this.specs;
      this.config = "";
      this.specs = [];
      this.followRoutes();
      await this.removeLeftovers(served, await this.daemon.stop("fos1 stops the DHCP client"));
      // As dhcpcd removes its routes on SIGTERM, fos1 removes the option-121 routes it installed.
      await this.syncRoutes();
    });
  }

  /**
   * Stops supervising and ends dhcpcd without it deconfiguring: the addresses and routes it
   * installed stay, until their lease lifetimes run out, and the next start takes the same
   * leases back. This is how the agent stops: a service restart must not take the uplinks down.
   * dhcpcd 9.4 keeps its configuration on SIGTERM only with `persistent` in its config (which
   * would also keep what a config change must remove), and `dhcpcd -x -p` signals the manager
   * by pid file, dropping the -p. So it is ended the way a crash ends it, with SIGKILL, which
   * the next start already handles (its orphan check, and dhcpcd rebinding its stored lease).
   */
  leave(): Promise<void> {
    return this.daemon.serial(async () => {
      this.config = "";
      this.specs = [];
      this.followRoutes(); // and the option-121 routes stay too, as dhcpcd's do
      if (this.daemon.pid !== undefined) this.log.info("leaving dhcpcd's addresses and routes in place", { pid: this.daemon.pid });
      await this.daemon.abandon();
    });
  }

  /**
   * What a stopped dhcpcd left: its addresses (dynamic and noprefixroute, as only dhcpcd makes
   * them; the kernel's SLAAC addresses have a prefix route) on the uplinks and the interfaces
   * given a delegated /64, and its routes (protocol dhcp and ra), removed in one ip batch. A
   * dhcpcd killed for not stopping in time (one signalled while it starts up can hang) removed
   * nothing; one that stopped cleanly left nothing, and then this only reads.
   */
  private async removeLeftovers(specs: DhcpClientSpec[], stoppedCleanly: boolean): Promise<void> {
    const ifnames = new Set(specs.flatMap((s) => [s.ifname, ...(s.prefixDelegation?.assign.map((a) => a.ifname) ?? [])]));
    const json = <T>(argv: string[]) => runToolOk({ purpose: "read what a killed dhcpcd left", argv: ["ip", "-json", ...argv] }).then((out) => JSON.parse(out || "[]") as T);
    type Link = { ifname: string; addr_info: { local: string; prefixlen: number; scope: string; dynamic?: boolean; noprefixroute?: boolean }[] };
    type Route = { dst: string; type?: string; dev?: string; table?: string; protocol?: string; metric?: number };
    const [links, routes4, routes6] = await Promise.all([
      json<Link[]>(["addr", "show"]),
      json<Route[]>(["-4", "route", "show", "table", "all", "proto", "dhcp"]),
      json<Route[]>(["-6", "route", "show", "table", "all"]).then((rs) => rs.filter((r) => r.protocol === "dhcp" || r.protocol === "ra")),
    ]);
    // Each route named in full (type, protocol, metric), so that no other route of the same destination goes instead.
    const del = (r: Route, family: 4 | 6) =>
      [
        "route del",
        r.type && r.type !== "unicast" ? r.type : "",
        r.dst === "default" ? (family === 6 ? "::/0" : "0.0.0.0/0") : r.dst,
        r.dev ? `dev ${r.dev}` : "",
        r.table ? `table ${r.table}` : "",
        `proto ${r.protocol ?? "dhcp"}`,
        r.metric !== undefined ? `metric ${r.metric}` : "",
      ]
        .filter(Boolean)
        .join(" ");
    // Routes first: removing an address takes the routes through it with it.
    const lines = [
      ...routes4.map((r) => del(r, 4)),
      ...routes6.map((r) => del(r, 6)),
      ...links.filter((l) => ifnames.has(l.ifname)).flatMap((l) => l.addr_info.filter((a) => a.scope === "global" && a.dynamic && a.noprefixroute).map((a) => `address del ${a.local}/${a.prefixlen} dev ${l.ifname}`)),
    ];
    if (!lines.length) return;
    this.log.warn(`${stoppedCleanly ? "dhcpcd stopped" : "dhcpcd did not stop in time and was killed"}, leaving addresses or routes it installed; removing them`, { operations: lines.length });
    await runToolOk({ purpose: "remove what a killed dhcpcd installed", argv: ["ip", "-batch", "-"], stdin: lines.join("\n") + "\n" });
  }

  /** Per uplink of the current specs: the leases dhcpcd holds and the addresses in the kernel. */
  async status(): Promise<DhcpLeaseStatus[]> {
    const specs = this.specs;
    const running = this.daemon.pid !== undefined;
    const ipJson = await runToolOk({ purpose: "read interface addresses", argv: ["ip", "-json", "addr", "show"] });
    const leases = new Map<string, LeaseDump>();
    // A lease file outlives the dhcpcd that wrote it: only a running dhcpcd's leases count.
    if (running)
      for (const s of specs) {
        const v4 = readLease(join(this.leaseDir, `${s.ifname}.lease`), parseLease4);
        const v6 = readLease(join(this.leaseDir, `${s.ifname}.lease6`), parseLease6);
        leases.set(s.ifname, { ...(v4 && s.v4 ? { v4 } : {}), ...(v6 && s.v6 ? { v6 } : {}) });
      }
    return buildStatus(specs, running, leases, ipJson).map((st) => {
      const screened = this.screened.get(st.ifname);
      return screened ? { ...st, classlessRoutes: screened } : st;
    });
  }

  /** Warns when dhcpcd runs with more capabilities than it needs (setpriv fails silently without CAP_SETPCAP). */
  private checkPrivileges() {
    const pid = this.daemon.pid;
    if (pid === undefined) return;
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/status`, "utf8");
    } catch {
      return; // it exited already; the supervisor restarts it and says why
    }
    const problem = boundingSetProblem(status);
    if (problem) this.log.warn(problem, { pid });
  }

  /** Per uplink with classlessStaticRoutes: its lease's option 121 as last screened (what was installed and what refused). */
  screenedRoutes(): ReadonlyMap<string, ScreenedRoutes> {
    return this.screened;
  }

  /** Runs syncRoutes every few seconds while an uplink asks for option 121's routes; stops otherwise. */
  private followRoutes() {
    const wanted = this.specs.some((s) => s.classlessStaticRoutes);
    if (wanted && !this.routeTimer) {
      this.routeTimer = setInterval(() => void this.syncRoutes(), ROUTE_SYNC_MS);
      this.routeTimer.unref?.();
    } else if (!wanted && this.routeTimer) {
      clearInterval(this.routeTimer);
      this.routeTimer = undefined;
    }
    if (!wanted) this.screened.clear();
  }

  /**
   * Makes the kernel's option-121 routes match the running dhcpcd's leases, screened
   * (static-routes.ts): installs the accepted ones on their uplink, removes the rest (a lease
   * gone, a route dropped by the server, a setting turned off, a network now protected). The
   * protected networks are the config's LAN and management networks and, read each time, every
   * network the router is connected to. A change in what is refused is logged as a warning.
   */
  syncRoutes(): Promise<void> {
    if (this.routeSyncWaiting) return this.routeQueue;
    this.routeSyncWaiting = true;
    this.routeQueue = this.routeQueue.then(() => {
      this.routeSyncWaiting = false;
      return this.syncRoutesNow();
    });
    return this.routeQueue;
  }

  private async syncRoutesNow(): Promise<void> {
    try {
      const [addrJson, routeJson] = await Promise.all([
        runToolOk({ purpose: "read interface addresses", argv: ["ip", "-json", "addr", "show"] }),
        runToolOk({ purpose: "read fos1's DHCP routes", argv: ["ip", "-4", "-json", "route", "show", "proto", String(FOS1_DHCP_ROUTE_PROTO)] }),
      ]);
      const links = JSON.parse(addrJson) as { ifname: string; ifindex: number }[];
      const installed = (JSON.parse(routeJson) as InstalledRoute[]).map((r) => ({ ...r, dst: r.dst.includes("/") ? r.dst : `${r.dst}/32` }));
      const connected = connectedNetworks(addrJson);
      const running = this.daemon.pid !== undefined;
      const lines: string[] = [];
      const uplinks = new Set([...this.specs.map((s) => s.ifname), ...installed.map((r) => r.dev)]);
      for (const ifname of uplinks) {
        const spec = this.specs.find((s) => s.ifname === ifname && s.classlessStaticRoutes);
        const lease = spec && running ? readLease(join(this.leaseDir, `${ifname}.lease`), parseLease4) : undefined;
        const screened = spec ? screenClasslessRoutes(lease?.classlessRoutes ?? [], [...connected, ...(spec.protectedNetworks ?? [])]) : undefined;
        if (spec && screened) this.noteScreened(ifname, screened);
        const ifindex = links.find((l) => l.ifname === ifname)?.ifindex;
        // dhcpcd's own default metric, so these sit beside its routes on the same uplink.
        const metric = spec?.routeMetric ?? 1000 + (ifindex ?? 0);
        lines.push(...classlessRouteBatch(ifname, metric, screened?.accepted ?? [], installed));
      }
      if (lines.length) {
        await runToolOk({ purpose: "install the uplinks' option-121 routes", argv: ["ip", "-batch", "-"], stdin: lines.join("\n") + "\n" });
        this.log.info("DHCP option-121 routes updated", { changes: lines });
      }
    } catch (err) {
      this.log.warn("cannot update the uplinks' option-121 routes; trying again", { error: (err as Error).message });
    }
  }

  private noteScreened(ifname: string, screened: ScreenedRoutes) {
    const before = this.screened.get(ifname);
    this.screened.set(ifname, screened);
    if (JSON.stringify(before?.refused) === JSON.stringify(screened.refused)) return;
    for (const r of screened.refused)
      this.log.warn(`refused a route from the DHCP server on ${ifname}: ${r.dst} via ${r.gateway} overlaps ${r.overlaps.join(", ")}, a connected, LAN or management network`, {
        interface: ifname,
        dst: r.dst,
        gateway: r.gateway,
        overlaps: r.overlaps,
      });
  }
}

/** Another dhcpcd manager holds the host-wide pid file: a second one would only send it commands. */
function refuseForeignManager() {
  const pid = readPid(DHCPCD_PIDFILE);
  if (pid !== undefined && isProgram(pid, "dhcpcd"))
    throw new OperationError(
      `cannot start the DHCP client: another dhcpcd (pid ${pid}, in ${DHCPCD_PIDFILE}) runs on this host and was not started by fos1; stop it (or the service that runs it) so fos1 can manage DHCP on its uplinks`,
    );
}

function readLease<T>(path: string, parse: (msg: Uint8Array) => T | undefined): T | undefined {
  try {
    return parse(new Uint8Array(readFileSync(path)));
  } catch {
    return undefined; // no lease (yet)
  }
}
