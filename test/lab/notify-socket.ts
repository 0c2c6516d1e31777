// The service manager's end of sd_notify inside a lab VM, where there is no python3 or socat:
// a unix datagram socket bound at PATH, and every datagram received on it. Bundled by
// extension-boot.test.ts and run by the VM's own fos1 as a Bun runtime (BUN_BE_BUN=1):
//
//   notify-socket.js PATH     binds PATH (a stale socket file is removed first), prints
//                             "bound", then each datagram as one JSON string per line
//
// Bun has no unix datagram sockets (see src/agent/sd-notify.ts), so libc does the socket
// work here too; the address is built by the agent's own notifySockaddr. recv() blocks the
// only thread, which is all this process does.
import { dlopen, FFIType, ptr, read, suffix } from "bun:ffi";
import { rmSync, writeSync } from "node:fs";
import { notifySockaddr } from "../../src/agent/sd-notify";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
/** A notification is a few short lines; one longer than this would arrive cut (recv truncates). */
const BUFFER_BYTES = 65536;

const libc = dlopen(`libc.${suffix}.6`, {
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  recv: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
  __errno_location: { args: [], returns: FFIType.ptr },
  strerror: { args: [FFIType.i32], returns: FFIType.cstring },
}).symbols;

function fail(call: string): never {
  const errno = read.i32(libc.__errno_location()!, 0);
  throw new Error(`${call}: ${String(libc.strerror(errno))} (errno ${errno})`);
}

const path = process.argv[2];
if (!path?.startsWith("/")) throw new Error("usage: notify-socket.js PATH (an absolute path)");
rmSync(path, { force: true });
const { addr, length } = notifySockaddr(path);
const fd = libc.socket(AF_UNIX, SOCK_DGRAM, 0);
if (fd < 0) fail("socket(AF_UNIX, SOCK_DGRAM)");
if (libc.bind(fd, ptr(addr), length) < 0) fail(`bind(${path})`);
writeSync(1, "bound\n");
const buf = new Uint8Array(BUFFER_BYTES);
const decoder = new TextDecoder();
for (;;) {
  const n = Number(libc.recv(fd, ptr(buf), buf.length, 0));
  if (n < 0) fail("recv");
  writeSync(1, JSON.stringify(decoder.decode(buf.subarray(0, n))) + "\n");
}
