// sd_notify(3), spoken directly: one datagram of "KEY=value" lines sent to the AF_UNIX socket
// NOTIFY_SOCKET names — a path ("/run/systemd/notify") or, starting with "@", a name in the
// abstract namespace (the "@" stands for the leading NUL byte).
//
// Why bun:ffi and libc. Bun and Node have no unix datagram sockets (node:dgram is UDP only,
// Bun.udpSocket too, node:net is streams), and the alternative, systemd's `systemd-notify`,
// would put the systemd package into the Talos extension for one sendto(). fos1 already
// reaches libbpf through bun:ffi, and glibc is in every image fos1 runs in (the executable
// itself links it), so three libc calls are the smallest real implementation.
//
// Talos does not set NOTIFY_SOCKET (it counts a service as up when its process runs); systemd
// hosts and the VM lab do.
import { ptr } from "bun:ffi";
import { errnoText, libc, type Libc } from "../base/libc";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
/** A notify socket that went away must not kill the agent with SIGPIPE. */
const MSG_NOSIGNAL = 0x4000;
/** sizeof(struct sockaddr_un): a 2-byte family, then sun_path[108]. */
const SOCKADDR_UN_SIZE = 110;
const SUN_PATH_OFFSET = 2;
const SUN_PATH_MAX = 108;

export class NotifyError extends Error {}

/**
 * The struct sockaddr_un for a NOTIFY_SOCKET value, and the length to pass with it. A path
 * is NUL-terminated; an abstract name is not, and its length is exactly what the address
 * length says (systemd binds it that way, so a trailing NUL would name another socket).
 */
export function notifySockaddr(socket: string): { addr: Uint8Array; length: number } {
  const abstract = socket.startsWith("@");
  if (!abstract && !socket.startsWith("/"))
    throw new NotifyError(`NOTIFY_SOCKET="${socket}" is not a unix socket address: expected an absolute path or "@name" (abstract); other kinds (vsock:) are not supported`);
  const name = new TextEncoder().encode(abstract ? socket.slice(1) : socket);
  const room = SUN_PATH_MAX - 1; // one byte goes to the abstract name's leading NUL, or the path's trailing one
  if (name.length === 0 || name.length > room)
    throw new NotifyError(`NOTIFY_SOCKET="${socket}" is ${name.length ? "too long" : "empty"}: a unix socket address holds 1 to ${room} bytes`);
  const addr = new Uint8Array(SOCKADDR_UN_SIZE);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  addr.set(name, SUN_PATH_OFFSET + (abstract ? 1 : 0));
  return { addr, length: SUN_PATH_OFFSET + name.length + 1 };
}

function openLibc(): Libc {
  try {
    return libc();
  } catch (err) {
    throw new NotifyError(`cannot send sd_notify messages: ${(err as Error).message}`);
  }
}

/**
 * Sends one notification ("READY=1", "STATUS=…", "STOPPING=1", several joined by "\n") to
 * socket. Returns false without sending when socket is undefined or empty (no service
 * manager is listening); throws NotifyError when the message cannot be delivered.
 */
export function sdNotify(message: string, socket: string | undefined = process.env.NOTIFY_SOCKET): boolean {
  if (!socket) return false;
  if (!message) throw new NotifyError("an sd_notify message cannot be empty");
  const { addr, length } = notifySockaddr(socket);
  const c = openLibc();
  const payload = new TextEncoder().encode(message);
  const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new NotifyError(`cannot send sd_notify message: socket(AF_UNIX, SOCK_DGRAM): ${errnoText()}`);
  try {
    const sent = Number(c.sendto(fd, ptr(payload), payload.length, MSG_NOSIGNAL, ptr(addr), length));
    if (sent < 0) throw new NotifyError(`cannot send sd_notify message to NOTIFY_SOCKET=${socket}: ${errnoText()}`);
    if (sent !== payload.length) throw new NotifyError(`sd_notify message to NOTIFY_SOCKET=${socket} was cut short (${sent} of ${payload.length} bytes)`);
  } finally {
    c.close(fd);
  }
  return true;
}
