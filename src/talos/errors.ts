// gRPC failures of the Talos API turned into what an operator can act on: which API at which
// address, what failed, and what to check. Pure: the TLS probe's finding is passed in.
import { status } from "@grpc/grpc-js";
import { describeTarget, type TalosTarget } from "./target";
import type { TlsProbeResult } from "./tls-probe";

export type Rpc = "Version" | "ServiceList" | "ApplyConfiguration" | "Logs" | "Kubeconfig";

export class TalosApiError extends Error {
  constructor(
    message: string,
    readonly code: status,
    /** Talos found the request itself wrong (a config it does not accept): exit code 2. */
    readonly invalidInput = false,
  ) {
    super(message);
  }
}

export interface CallFailure {
  code: status;
  details: string;
}

// The least Talos role each rpc needs (machined's authorization rules).
const ROLE_NEEDED: Record<Rpc, string> = { Version: "os:reader", ServiceList: "os:reader", Logs: "os:reader", ApplyConfiguration: "os:admin", Kubeconfig: "os:admin" };

export function describeFailure(target: TalosTarget, rpc: Rpc, failure: CallFailure, probe?: TlsProbeResult): TalosApiError {
  const where = describeTarget(target);
  const detail = plainDetails(failure.details);
  const code = failure.code;
  const say = (message: string, invalidInput = false) => new TalosApiError(message, code, invalidInput);
  if (code === status.UNAVAILABLE) return say(target.kind === "socket" ? socketUnavailable(where, detail) : apidUnavailable(target, where, rpc, detail, probe));
  if (code === status.DEADLINE_EXCEEDED) return say(`${where} did not answer ${rpc} in time (${detail}): check that the node is up and not overloaded`);
  if (code === status.PERMISSION_DENIED || code === status.UNAUTHENTICATED) {
    if (target.kind === "socket") return say(`${where} refused ${rpc}: ${detail}. machined admits only Talos's own services and extension services (ext-*) on its socket: run fos1 from the ext-fos1-agent service, or go through apid with a talosconfig`);
    return say(`${where} refused ${rpc}: ${detail}. The client certificate of ${target.credentialsFrom} lacks the role: ${rpc} needs ${ROLE_NEEDED[rpc]} or higher (talosctl config info shows the roles)`);
  }
  // machined answers Kubeconfig so on a worker: only control planes hold the cluster's secrets.
  if (code === status.UNIMPLEMENTED && rpc === "Kubeconfig" && /control plane/.test(detail))
    return say(`${where} has no kubeconfig to give: this node is not a control plane (${detail}); Talos hands the cluster's kubeconfig out only on control-plane nodes`);
  if (code === status.UNIMPLEMENTED) return say(`${where} does not serve machine.MachineService/${rpc}: ${detail}. Is it Talos's apid (port 50000; trustd is 50001)?`);
  if (code === status.INVALID_ARGUMENT && rpc === "ApplyConfiguration") return say(`Talos refused the configuration (${where}): ${detail}`, true);
  return say(`${where} failed ${rpc} (${status[code] ?? code}): ${detail}`);
}

// grpc-js wraps a failure to connect as "No connection established. Last error: X. Resolution
// note: Y": the operator needs X.
function plainDetails(details: string): string {
  const m = /^No connection established\. Last error: (?:Error: )?(.*?)\.?(?: Resolution note: .*)?$/s.exec(details);
  return m ? m[1]! : details;
}

function socketUnavailable(where: string, detail: string): string {
  return (
    `cannot reach ${where}: ${detail}. Without a talosconfig, fos1 talos uses machined's socket, which exists only on a Talos ` +
    `node (and inside a service only where it is mounted); elsewhere give --talosconfig FILE (or set TALOSCONFIG) to go through apid`
  );
}

function apidUnavailable(target: Extract<TalosTarget, { kind: "apid" }>, where: string, rpc: Rpc, detail: string, probe: TlsProbeResult | undefined): string {
  const creds = target.credentialsFrom;
  switch (probe?.stage) {
    case "connect":
      if (probe.code === "ENOTFOUND" || probe.code === "EAI_AGAIN") return `cannot resolve the endpoint of ${where}: ${probe.message}. Check the endpoint (-e, or endpoints in ${creds})`;
      if (probe.code === "ECONNREFUSED") return `nothing accepts connections at ${where} (${probe.message}): check the endpoint (-e, or endpoints in ${creds}), that the node is up with apid running, and that port ${target.port}/tcp is open to this machine`;
      return `cannot connect to ${where}: ${probe.message}. Check the route to the node and that no firewall drops port ${target.port}/tcp`;
    case "server-certificate":
      if (probe.code === "ERR_TLS_CERT_ALTNAME_INVALID") return `the certificate of ${where} is not valid for ${target.host}: ${probe.message}. Use an endpoint the node's certificate names (its addresses, or machine.certSANs)`;
      if (probe.code === "CERT_HAS_EXPIRED" || probe.code === "CERT_NOT_YET_VALID") return `the certificate of ${where} is not valid now (${probe.message}): check the clocks of this machine and of the node`;
      return `the certificate of ${where} is not signed by the CA (ca) of ${creds} (${probe.message}): the talosconfig is of another cluster, or the node got new secrets; use this cluster's talosconfig`;
    case "client-certificate":
      return `${where} refused the client certificate (crt, key) of ${creds}${probe.code ? ` (${probe.code})` : ""}: ${probe.message}. The certificate is not from this cluster's CA, or it expired: use this cluster's talosconfig (talosctl config info shows the certificate's expiry)`;
    case "handshake":
      return `TLS with ${where} failed: ${probe.message}. Is the endpoint Talos's apid (port 50000)?`;
    case "ok":
      return `${where} accepts this client, but ${rpc} failed as unavailable: ${detail}. apid may not reach the node it forwards to (-n, or nodes in ${creds})`;
    case "no-answer":
      return `${where} did not answer within ${probe.afterMs / 1000} s: check the route to the node and that no firewall drops port ${target.port}/tcp`;
    default:
      return `cannot reach ${where}: ${detail}`;
  }
}
