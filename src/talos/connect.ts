// Which Talos API a command talks to, from its flags and the environment: --socket (machined on
// this node), else a talosconfig (--talosconfig, $TALOSCONFIG, ~/.talos/config) for apid, else
// machined's socket when this is a Talos node.
import { existsSync } from "node:fs";
import { defaultTalosconfigPath, parseTalosconfig, TalosconfigError } from "./talosconfig";
import { MACHINED_SOCKET, parseEndpoint, type TalosTarget } from "./target";

export interface ConnectFlags {
  talosconfig?: string;
  context?: string;
  /** One apid endpoint instead of the context's first. */
  endpoint?: string;
  /** Comma-separated nodes instead of the context's. */
  nodes?: string;
  socket?: string;
}

/** Neither a talosconfig nor machined's socket: nothing to talk to. */
export class NoTalosApiError extends Error {}

/** Flags that contradict each other or are malformed. */
export class ConnectFlagError extends Error {}

export async function resolveTarget(flags: ConnectFlags, env: Record<string, string | undefined> = process.env): Promise<TalosTarget> {
  const apidFlags = (["talosconfig", "context", "endpoint", "nodes"] as const).filter((f) => flags[f] !== undefined);
  if (flags.socket !== undefined) {
    if (apidFlags.length) throw new ConnectFlagError(`--socket talks to machined on this node; --${apidFlags[0]} is for apid (drop one of them)`);
    if (!flags.socket.startsWith("/")) throw new ConnectFlagError(`--socket takes an absolute path (machined's is ${MACHINED_SOCKET}); got "${flags.socket}"`);
    return { kind: "socket", path: flags.socket };
  }
  // An empty TALOSCONFIG counts as unset, as for talosctl.
  const explicit = flags.talosconfig ?? (env.TALOSCONFIG || undefined);
  const file = explicit ?? defaultTalosconfigPath(env);
  if (!explicit && !existsSync(file) && !apidFlags.length) {
    if (existsSync(MACHINED_SOCKET)) return { kind: "socket", path: MACHINED_SOCKET };
    throw new NoTalosApiError(
      `no Talos API to talk to: no talosconfig at ${file} (TALOSCONFIG is not set) and no machined socket at ${MACHINED_SOCKET} (this is not a Talos node). ` +
        `Give --talosconfig FILE for apid, or run fos1 talos on the node`,
    );
  }
  let text: string;
  try {
    text = await Bun.file(file).text();
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message;
    throw new TalosconfigError(`cannot read talosconfig ${file}: ${why}${explicit ? "" : " (the default; give --talosconfig FILE or set TALOSCONFIG)"}`);
  }
  const context = parseTalosconfig(text, file, flags.context);
  const { host, port } = parseEndpoint(flags.endpoint ?? context.endpoints[0]!);
  const nodes = flags.nodes === undefined ? context.nodes : flags.nodes.split(",").map((n) => n.trim());
  if (nodes.some((n) => !n)) throw new ConnectFlagError(`-n takes node addresses or names separated by commas; got "${flags.nodes}"`);
  return { kind: "apid", host, port, nodes, tls: context.tls, credentialsFrom: `context "${context.name}" of ${file}` };
}
