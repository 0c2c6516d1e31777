// Where Hubble is: the node's Unix socket (unix:///var/run/cilium/hubble.sock, Cilium's default)
// or a TCP address (hubble-relay's Service on :4245, or an agent's :4244), optionally with TLS.
// Pure (no gRPC here), so the CLI checks its arguments before loading the client.
export const DEFAULT_HUBBLE_SERVER = "unix:///var/run/cilium/hubble.sock";

export interface HubbleServer {
  /** The gRPC target: unix:///abs/path or host:port ([v6]:port). */
  target: string;
  unix: boolean;
  tls?: TlsFiles;
}

/** PEM contents (not paths): read by the caller, so this module does no file I/O. */
export interface TlsFiles {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** The name the server's certificate must carry when it differs from the host dialled. */
  serverName?: string;
}

export class ServerAddressError extends Error {}

const HOST = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)$/;

/** Parses `--server`: unix:///path or host:port; throws ServerAddressError saying what is allowed. */
export function parseServer(text: string, tls?: TlsFiles): HubbleServer {
  const allowed = "give unix:///path/to/hubble.sock or host:port (e.g. hubble-relay:4245, [fd00::1]:4245)";
  if (text.startsWith("unix:")) {
    const path = text.slice("unix://".length);
    if (!text.startsWith("unix:///") || path.length < 2) throw new ServerAddressError(`server "${text}": a Unix socket is written unix:///absolute/path; ${allowed}`);
    if (tls) throw new ServerAddressError(`server "${text}": TLS options are for a TCP server (hubble-relay), not a Unix socket`);
    return { target: text, unix: true };
  }
  const colon = text.lastIndexOf(":");
  const host = colon > 0 ? text.slice(0, colon) : "";
  const port = colon > 0 ? text.slice(colon + 1) : "";
  if (!host || !HOST.test(host)) throw new ServerAddressError(`server "${text}": not a host:port; ${allowed}`);
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) throw new ServerAddressError(`server "${text}": port must be 1 to 65535; ${allowed}`);
  if (tls && Boolean(tls.cert) !== Boolean(tls.key)) throw new ServerAddressError("a TLS client certificate needs its key, and a key its certificate");
  return { target: text, unix: false, ...(tls ? { tls } : {}) };
}
