// The one contract every resource of the host implements (links, addresses, routes, rules,
// sysctls, firewall, xdp, dhcp), after Talos's network controllers and Cilium's reconcilers:
// observe its part of the kernel, plan against desired and observed (pure), and write its own
// typed operations. A new resource is one new module implementing this and one line in
// reconcilers.ts; the orchestrator (plan.ts, apply.ts) never looks inside an operation.
import type { DesiredState, ObservedState } from "./model";
import type { Op, OpFailure } from "./op";
import type { HostReader } from "./host-reader";
import type { LinkTopology } from "./links/topology";
import type { Degraded } from "./op";
import type { DhcpClientSpec } from "./dhcp/spec";
import type { DesiredLan } from "./lan/model";
import type { RulesetGeneration } from "./firewall/generation";

export interface PlanContext {
  /** The links as the plan leaves them: which desired ones are usable, what the remove phase deletes, the host after it. */
  links: LinkTopology;
  /** What a reconciler skips, and why: reported as degraded, the rest still applies. */
  degraded: Degraded[];
}

/**
 * Where a reconciler's operations go when written. The orchestrator gives each phase one
 * writer and runs what the reconcilers put in it as one `ip -batch` process (two when some
 * lines need `ip -6`), one `nft -j -f` transaction, then the direct calls, in that order.
 */
export interface PhaseWriter {
  /** A line of the phase's `ip -force -batch -`; ipv6: it needs `ip -6` (a rule with no address to tell its family by). */
  ip(op: Op, line: string, opts?: { ipv6?: boolean }): void;
  /**
   * Commands of the phase's nft transaction; `ifRefused`, a transaction to load instead when nft
   * refuses it (so that a refusal never leaves the router without a firewall); `loaded`, told
   * nftables' generation just before and after the transaction nft accepted.
   */
  nft(op: Op, commands: unknown[], opts?: NftWriteOptions): void;
  /** Writes that are no process of a tool (a /proc/sys file, bpf(2), the DHCP supervisor); returns what failed. */
  call(run: () => OpFailure[] | Promise<OpFailure[]>): void;
}

export interface NftWriteOptions {
  ifRefused?: unknown[];
  loaded?: (generations: { before: RulesetGeneration | null; after: RulesetGeneration | null }) => void;
}

/** What the DHCP part of the engine needs of the supervisor that runs dhcpcd (only the agent has one). */
export interface DhcpClients {
  /** The specs dhcpcd runs with now (empty: it does not run). */
  running(): DhcpClientSpec[];
  /** Makes dhcpcd run with specs; throws when it cannot. */
  converge(specs: DhcpClientSpec[]): Promise<void>;
}

/** What the LAN services part of the engine needs of the supervisor that runs dnsmasq (only the agent has one). */
export interface LanServers {
  /** What it serves now; undefined before it was first asked. */
  running(): DesiredLan | undefined;
  /** Serves lan; throws when it cannot (a config dnsmasq refuses leaves the running one serving). */
  converge(lan: DesiredLan): Promise<void>;
}

/** What observing and writing need beyond the state: the tools, the state dir, the DHCP supervisor. */
export interface EngineEnv {
  /** Path of ip (default: ip on PATH). */
  ip?: string;
  /** Where `fos1 xdp block` keeps its entries, which apply must leave (default /var/lib/fos1). */
  stateDir?: string;
  /** The agent's DHCP supervisor; without one, DHCP is not the engine's to change. */
  dhcp?: DhcpClients;
  /** The agent's LAN services supervisor; without one, they are not the engine's to change. */
  lan?: LanServers;
}

export interface Reconciler<Desired = unknown, Observed = unknown, Change = unknown> {
  readonly resource: Op["resource"];
  /** Its part of the desired state (compiled once per apply by desired.ts). */
  desired(state: DesiredState): Desired;
  /** Its part of the observed state. */
  observed(state: ObservedState): Observed;
  /** Reads its part of the host, never writing; the reader shares one dump between the reconcilers that read it. */
  observe(host: HostReader, desired: Desired): Promise<Partial<ObservedState>>;
  /** Pure: the operations that make observed into desired, in the order they must run; none when they match. */
  plan(desired: Desired, observed: Observed, ctx: PlanContext): Op<Change>[];
  /** Renders its operations into the phase's writer. */
  write(ops: Op<Change>[], out: PhaseWriter, env: EngineEnv): void;
}
