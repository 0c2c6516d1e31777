// Calling libbpf safely: every return code is checked, and a failure becomes a BpfError that
// says what was being done, the errno in words (libbpf_strerror, which also knows libbpf's
// own codes such as "Kernel verifier blocks program loading"), and what libbpf logged during
// the call (the verifier log of a rejected program, "couldn't reuse pinned map", the kernel's
// netlink message for a refused XDP attach). libbpf's log is captured through its print
// callback instead of going to stderr; warnings of calls that succeed are still written there.
import { CString, JSCallback, FFIType, ptr, type Pointer } from "bun:ffi";
import { openLibbpf, type Libbpf } from "./libbpf";
import { errno as libcErrno, libc as openLibc, type Libc } from "../base/libc";

export class BpfError extends Error {
  constructor(
    /** What was being done, e.g. "load dist/bpf/xdp_filter.o". */
    readonly op: string,
    /** Positive errno (or libbpf's own code, >= 4000); 0 when not from a failed call. */
    readonly errno: number,
    readonly detail: string,
    /** libbpf's log lines during the call (possibly the verifier log). */
    readonly log: string[] = [],
  ) {
    super(formatMessage(op, detail, log));
    this.name = "BpfError";
  }
}

const LOG_LIMIT = 60; // lines kept in a message: a verifier log's end says what failed

function formatMessage(op: string, detail: string, log: string[]): string {
  if (log.length === 0) return `${op}: ${detail}`;
  const shown = log.length > LOG_LIMIT ? ["…", ...log.slice(-LOG_LIMIT)] : log;
  return `${op}: ${detail}\nlibbpf said:\n  ${shown.join("\n  ")}`;
}

export const errnoCode = {
  ENOENT: 2,
  EINTR: 4,
  EEXIST: 17,
  E2BIG: 7,
  ENOSPC: 28,
} as const;

let bound: { lib: Libbpf; libc: Libc } | undefined;

interface LogLine {
  warn: boolean;
  text: string;
}
let capture: LogLine[] | null = null;
const LIBBPF_WARN = 0;
const LIBBPF_DEBUG = 2;

// libbpf_print_fn_t: int (*)(enum libbpf_print_level, const char *fmt, va_list ap). On x86-64
// a va_list argument is a pointer, which vsnprintf takes as it is.
let printer: JSCallback | undefined;
const lineBuf = new Uint8Array(8192);

function onPrint(level: number, fmt: Pointer | null, ap: Pointer | null): number {
  if (!bound || fmt === null || ap === null || level >= LIBBPF_DEBUG) return 0;
  const n = bound.libc.vsnprintf(ptr(lineBuf), lineBuf.length, fmt, ap);
  if (n <= 0) return 0;
  const text = new TextDecoder().decode(lineBuf.subarray(0, Math.min(n, lineBuf.length - 1)));
  for (const raw of text.split("\n")) {
    const line = raw.replace(/^libbpf: /, ""); // most of libbpf's formats carry it already
    if (line === "") continue;
    if (capture) capture.push({ warn: level === LIBBPF_WARN, text: line });
    else if (level === LIBBPF_WARN) process.stderr.write(`libbpf: ${line}\n`);
  }
  return 0;
}

/** libbpf and libc, opened once; throws BpfError when libbpf is missing or older than 1.0. */
export function native(): { lib: Libbpf; libc: Libc } {
  if (bound) return bound;
  const r = openLibbpf();
  if ("error" in r) throw new BpfError("open libbpf", 0, r.error);
  const version = String(r.lib.libbpf_version_string());
  // 1.0 made every call return -errno and pointer calls set errno: the contract relied on here.
  const major = Number(/^v?(\d+)\./.exec(version)?.[1] ?? 0);
  if (major < 1) throw new BpfError("open libbpf", 0, `libbpf ${version} is too old: 1.0 or later is needed`);
  bound = { lib: r.lib, libc: openLibc() };
  printer = new JSCallback(onPrint, { args: [FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 });
  if (printer.ptr !== null) bound.lib.libbpf_set_print(printer.ptr);
  return bound;
}

/** errno in words, libbpf's codes included. */
export function strerror(errno: number): string {
  const buf = new Uint8Array(256);
  native().lib.libbpf_strerror(-Math.abs(errno), ptr(buf), buf.length);
  return new CString(ptr(buf)).toString();
}

function errno(): number {
  native();
  return libcErrno();
}

function failure(op: string, code: number, log: LogLine[]): BpfError {
  const detail = code ? `${strerror(code)} (errno ${code})` : "failed (no errno)";
  return new BpfError(op, code, detail, log.map((l) => l.text));
}

/** Runs body with libbpf's log collected; an enclosing capture also gets the lines. */
function captured<T>(body: () => T): { value: T; log: LogLine[] } {
  const outer = capture;
  const log: LogLine[] = [];
  capture = log;
  try {
    return { value: body(), log };
  } finally {
    capture = outer;
    if (outer) outer.push(...log);
  }
}

function warnOnSuccess(log: LogLine[]) {
  if (capture) return; // an enclosing call decides
  for (const line of log) if (line.warn) process.stderr.write(`libbpf: ${line.text}\n`);
}

/** Runs a libbpf call that returns an int: a negative value is -errno and throws. */
export function check(op: string, call: (lib: Libbpf) => number): number {
  const { lib } = native();
  const { value, log } = captured(() => call(lib));
  if (value < 0) throw failure(op, -value, log);
  warnOnSuccess(log);
  return value;
}

/** Runs a libc call that returns an int: a negative value means failure, with the cause in errno. */
export function checkLibc(op: string, call: (libc: Libc) => number): number {
  const { libc } = native();
  const value = call(libc);
  if (value < 0) throw failure(op, errno(), []);
  return value;
}

/** A pointer as bun:ffi returns it (a number; its types also allow a bigint). */
export function pointer(p: Pointer | bigint | null): Pointer | null {
  return typeof p === "bigint" ? (Number(p) as Pointer) : p;
}

/** Runs a libbpf call that returns a pointer: NULL means failure, with the cause in errno. */
export function checkPtr(op: string, call: (lib: Libbpf) => Pointer | bigint | null): Pointer {
  const { lib } = native();
  // errno is read at once, before any other code can change it
  const { value, log } = captured(() => {
    const p = pointer(call(lib));
    return { p, err: p === null ? errno() : 0 };
  });
  if (value.p === null) throw failure(op, value.err, log);
  warnOnSuccess(log);
  return value.p;
}

/** A NUL-terminated copy of s, for char * arguments; keep it referenced until the call returns. */
export function cstr(s: string): Uint8Array {
  return new TextEncoder().encode(`${s}\0`);
}

/** Closes a file descriptor this process owns (map or program fd from the kernel). */
export function closeFd(fd: number): void {
  if (fd >= 0) native().libc.close(fd);
}
