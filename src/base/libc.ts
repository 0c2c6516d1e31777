// The C library through bun:ffi, opened once for the whole program: the few calls Bun and Node
// do not offer. sd_notify needs a unix datagram socket, the eBPF binding needs errno, printf
// formatting of libbpf's log lines and interface indexes, fos1's locks (the state dir, an XDP
// filter's pins) need flock(2), which releases the lock when the holder dies, a node
// without bpffs needs mount(2), and nftables' generation counter is only on netlink.
import { dlopen, FFIType, read, suffix } from "bun:ffi";

const { ptr, i32, u32, u64, i64, cstring } = FFIType;

const symbols = {
  /** errno of this thread. */
  __errno_location: { args: [], returns: ptr },
  strerror: { args: [i32], returns: cstring },
  open: { args: [ptr, i32, i32], returns: i32 },
  close: { args: [i32], returns: i32 },
  flock: { args: [i32, i32], returns: i32 },
  socket: { args: [i32, i32, i32], returns: i32 },
  sendto: { args: [i32, ptr, u64, i32, ptr, u32], returns: i64 },
  /** A netlink reply (nftables' ruleset generation, src/engine/firewall/generation.ts). */
  recv: { args: [i32, ptr, u64, i32], returns: i64 },
  /** SO_NETNS_COOKIE: which network namespace a socket lives in, never reused within a boot. */
  getsockopt: { args: [i32, i32, i32, ptr, ptr], returns: i32 },
  /** libbpf hands its log lines to the print callback as (format, va_list). */
  vsnprintf: { args: [ptr, u64, ptr, ptr], returns: i32 },
  /** mount(2): bpffs where nothing mounted one (src/bpf/bpffs.ts). */
  mount: { args: [ptr, ptr, ptr, u64, ptr], returns: i32 },
  /** In the caller's network namespace, unlike /sys/class/net (which follows the mount). */
  if_nametoindex: { args: [ptr], returns: u32 },
} as const;

export type Libc = ReturnType<typeof dlopen<typeof symbols>>["symbols"];

export const O_RDONLY = 0;
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_DIRECTORY = 0o200000;
export const O_CLOEXEC = 0o2000000;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;
export const EWOULDBLOCK = 11;

let opened: Libc | undefined;

/** The C library (glibc's soname; musl's libc.so serves the same symbols); throws naming what was tried. */
export function libc(): Libc {
  if (opened) return opened;
  const failures: string[] = [];
  for (const path of [`libc.${suffix}.6`, `libc.${suffix}`]) {
    try {
      opened = dlopen(path, symbols).symbols;
      return opened;
    } catch (err) {
      failures.push(`${path}: ${(err as Error).message}`);
    }
  }
  throw new Error(`libc not found (${failures.join("; ")})`);
}

/** errno of this thread, as the last failed libc call left it. */
export function errno(): number {
  const loc = libc().__errno_location();
  return loc === null ? 0 : read.i32(loc, 0);
}

/** "No such file or directory (errno 2)". */
export function errnoText(code = errno()): string {
  return `${String(libc().strerror(code))} (errno ${code})`;
}

/** A NUL-terminated copy of a string, to pass as a char*. */
export function cString(text: string): Uint8Array {
  return new TextEncoder().encode(text + "\0");
}
