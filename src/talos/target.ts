// Where the Talos API is: machined's Unix socket on the node itself (no TLS: machined admits
// callers by their process — Talos's services and extension services), or apid on :50000 with
// mutual TLS, which forwards a request to the nodes named in the "nodes" metadata.
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import { isIP } from "node:net";
import { credentials, Metadata, type ChannelCredentials, type ChannelOptions } from "@grpc/grpc-js";

export const MACHINED_SOCKET = "/system/run/machined/machine.sock";
export const APID_PORT = 50000;

/** PEM contents, ready for TLS (a Talos "ED25519 PRIVATE KEY" already relabelled PKCS#8). */
export interface ClientTls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export type TalosTarget =
  | { kind: "socket"; path: string }
  | {
      kind: "apid";
      host: string;
      port: number;
      /** Nodes apid forwards to; empty: apid answers for its own node. */
      nodes: string[];
      tls: ClientTls;
      /** Where the credentials came from, for error messages: `context "x" of FILE`. */
      credentialsFrom: string;
    };

export class EndpointError extends Error {}

/**
 * Parses an endpoint as talosctl writes them: host, host:port, [v6]:port or a bare IPv6
 * address; the port is 50000 when none is given.
 */
export function parseEndpoint(text: string): { host: string; port: number } {
  const allowed = "give an address or name, optionally with a port: 192.168.1.1, 192.168.1.1:50000, [fd00::1]:50000, router.lan";
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(text);
  let host: string;
  let port: string | undefined;
  if (bracketed) [host, port] = [bracketed[1]!, bracketed[2]];
  else if (isIP(text) === 6) host = text;
  else {
    const colon = text.lastIndexOf(":");
    [host, port] = colon >= 0 ? [text.slice(0, colon), text.slice(colon + 1)] : [text, undefined];
  }
  if (!host || (!isIP(host) && !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host))) throw new EndpointError(`endpoint "${text}": not an address or host name; ${allowed}`);
  if (bracketed && isIP(host) !== 6) throw new EndpointError(`endpoint "${text}": brackets are for IPv6 addresses; ${allowed}`);
  if (port !== undefined && (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)) throw new EndpointError(`endpoint "${text}": port must be 1 to 65535; ${allowed}`);
  return { host, port: port === undefined ? APID_PORT : Number(port) };
}

/** The gRPC target string grpc-js dials. */
export function grpcTarget(target: TalosTarget): string {
  if (target.kind === "socket") return `unix://${target.path}`;
  return isIP(target.host) === 6 ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
}

/** How the operator knows the API: `apid at 192.168.1.1:50000` or `machined at /path`. */
export function describeTarget(target: TalosTarget): string {
  if (target.kind === "socket") return `machined at ${target.path}`;
  return `apid at ${isIP(target.host) === 6 ? `[${target.host}]` : target.host}:${target.port}`;
}

// Bun refuses an IP address as the TLS server name (SNI), which grpc-js always sets. apid has one
// certificate whatever the SNI says, so for an IP endpoint a fixed name goes in the SNI, and the
// certificate is still checked against the IP dialled (an IP SAN), as talosctl checks it.
const SNI_FOR_IP_ENDPOINTS = "talos-apid";

export function channelCredentials(target: TalosTarget): ChannelCredentials {
  if (target.kind === "socket") return credentials.createInsecure();
  const { ca, key, cert } = target.tls;
  return credentials.createSsl(ca, key, cert, {
    checkServerIdentity: (_name: string, peer: PeerCertificate) => checkServerIdentity(target.host, peer),
  });
}

/** The TLS server name (SNI) sent to apid at `host`. */
export function tlsServerName(host: string): string {
  return isIP(host) ? SNI_FOR_IP_ENDPOINTS : host;
}

export function channelOptions(target: TalosTarget): ChannelOptions {
  return target.kind === "apid" && isIP(target.host) ? { "grpc.ssl_target_name_override": tlsServerName(target.host) } : {};
}

/** The "nodes" metadata apid reads to forward a request (none: apid's own node answers). */
export function nodesMetadata(target: TalosTarget): Metadata {
  const metadata = new Metadata();
  if (target.kind === "apid") for (const node of target.nodes) metadata.add("nodes", node);
  return metadata;
}
