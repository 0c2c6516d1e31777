// Attaching XDP programs to interfaces through libbpf's netlink calls (bpf_xdp_attach,
// bpf_xdp_detach, bpf_xdp_query). A program attached this way belongs to the interface: it
// keeps running after the process that attached it exits, until it is detached or the
// interface goes away.
//
// Rules fos1 keeps:
//   - "auto" tries native (driver) mode and falls back to generic (skb) mode, and says which
//     mode it got and why native was refused.
//   - An interface with no XDP program is attached with XDP_FLAGS_UPDATE_IF_NOEXIST, so a
//     program someone else attached meanwhile is never overwritten.
//   - An interface that already runs a program of the same name (fos1's, from an earlier
//     run) gets the new one by atomic replacement (XDP_FLAGS_REPLACE with the old program's
//     fd): no moment without a filter, and it fails if the old program changed meanwhile.
//   - A program of another name is someone else's (Cilium's, say): fos1 refuses to replace
//     it or detach it.
import { ptr } from "bun:ffi";
import { BpfError, check, closeFd, cstr, errnoCode, native, strerror } from "./errors";
import { bpfProgInfo, bpfXdpAttachOpts, bpfXdpQueryOpts, CStruct } from "./cstructs";
import type { BpfProgram } from "./object";

// linux/if_link.h
const XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0;
const XDP_FLAGS_SKB_MODE = 1 << 1;
const XDP_FLAGS_DRV_MODE = 1 << 2;
const XDP_FLAGS_HW_MODE = 1 << 3;

export type XdpMode = "native" | "generic" | "offload";
export type XdpModeRequest = "auto" | "native" | "generic";

const MODE_FLAG: Record<XdpMode, number> = {
  native: XDP_FLAGS_DRV_MODE,
  generic: XDP_FLAGS_SKB_MODE,
  offload: XDP_FLAGS_HW_MODE,
};

export interface XdpAttachment {
  mode: XdpMode;
  progId: number;
  progName: string;
}

export interface AttachResult {
  ifname: string;
  mode: XdpMode;
  /** True when an earlier program of the same name was replaced. */
  replaced: boolean;
  /** Why native mode was not used, when "auto" fell back to generic. */
  nativeRefused?: string;
}

/** The interface's index in this process's network namespace. */
export function ifIndex(ifname: string): number {
  const n = cstr(ifname);
  const index = native().libc.if_nametoindex(n);
  if (index === 0) throw new BpfError(`find interface ${ifname}`, 0, "no such interface in this network namespace");
  return index;
}

/** The XDP programs attached to the interface, one per mode in use (normally none or one). */
export function queryXdp(ifname: string): XdpAttachment[] {
  const ifindex = ifIndex(ifname);
  const q = new CStruct(bpfXdpQueryOpts);
  check(`query XDP on ${ifname}`, (lib) => lib.bpf_xdp_query(ifindex, 0, q.ptr));
  const found: XdpAttachment[] = [];
  for (const [mode, field] of [["native", "drv_prog_id"], ["generic", "skb_prog_id"], ["offload", "hw_prog_id"]] as const) {
    const id = q.get(field);
    if (id) found.push({ mode, progId: id, progName: programName(id) });
  }
  return found;
}

/**
 * Attaches prog to the interface (see the rules above). Throws BpfError when the interface
 * runs another program, or when no requested mode works (each refusal is in the message).
 */
export function attachXdp(ifname: string, prog: BpfProgram, mode: XdpModeRequest = "auto"): AttachResult {
  const ifindex = ifIndex(ifname);
  const current = queryXdp(ifname);
  const foreign = current.find((a) => a.progName !== prog.name);
  if (foreign)
    throw new BpfError(
      `attach ${prog.name} to ${ifname}`,
      0,
      `${ifname} already runs XDP program ${foreign.progName} (id ${foreign.progId}, ${foreign.mode}); fos1 does not replace a program it did not attach`,
    );

  const own = current[0];
  if (own) {
    if (mode !== "auto" && mode !== own.mode)
      throw new BpfError(
        `attach ${prog.name} to ${ifname} in ${mode} mode`,
        0,
        `${ifname} runs ${own.progName} in ${own.mode} mode; detach it first to change the mode (the kernel cannot swap modes atomically)`,
      );
    replace(ifindex, ifname, prog, own);
    return { ifname, mode: own.mode, replaced: true };
  }

  const attach = (m: XdpMode) =>
    check(`attach ${prog.name} to ${ifname} in ${m} mode`, (lib) =>
      lib.bpf_xdp_attach(ifindex, prog.fd, XDP_FLAGS_UPDATE_IF_NOEXIST | MODE_FLAG[m], null),
    );
  if (mode !== "auto") {
    attach(mode);
    return { ifname, mode, replaced: false };
  }
  let nativeRefused: string;
  try {
    attach("native");
    return { ifname, mode: "native", replaced: false };
  } catch (err) {
    if (!(err instanceof BpfError)) throw err;
    nativeRefused = err.message;
  }
  try {
    attach("generic");
  } catch (err) {
    if (!(err instanceof BpfError)) throw err;
    throw new BpfError(err.op, err.errno, `${err.detail}; native mode was refused too: ${nativeRefused}`, err.log);
  }
  return { ifname, mode: "generic", replaced: false, nativeRefused };
}

/**
 * Detaches the program called progName from the interface; false when the interface runs no
 * XDP program. Throws when it runs another program.
 */
export function detachXdp(ifname: string, progName: string): boolean {
  const ifindex = ifIndex(ifname);
  const current = queryXdp(ifname);
  if (current.length === 0) return false;
  for (const a of current) {
    if (a.progName !== progName)
      throw new BpfError(`detach ${progName} from ${ifname}`, 0, `${ifname} runs XDP program ${a.progName} (id ${a.progId}), not ${progName}`);
  }
  for (const a of current) detachAttachment(ifindex, ifname, a);
  return true;
}

function replace(ifindex: number, ifname: string, prog: BpfProgram, old: XdpAttachment) {
  withProgramFd(old.progId, (oldFd) => {
    const o = new CStruct(bpfXdpAttachOpts).set("old_prog_fd", oldFd);
    check(`replace XDP program ${old.progName} (id ${old.progId}) on ${ifname}`, (lib) =>
      lib.bpf_xdp_attach(ifindex, prog.fd, MODE_FLAG[old.mode], o.ptr),
    );
  });
}

function detachAttachment(ifindex: number, ifname: string, a: XdpAttachment) {
  // with old_prog_fd the kernel detaches only if that program is still the one attached
  withProgramFd(a.progId, (oldFd) => {
    const o = new CStruct(bpfXdpAttachOpts).set("old_prog_fd", oldFd);
    check(`detach XDP program ${a.progName} (id ${a.progId}, ${a.mode}) from ${ifname}`, (lib) =>
      lib.bpf_xdp_detach(ifindex, MODE_FLAG[a.mode], o.ptr),
    );
  });
}

function withProgramFd<T>(id: number, body: (fd: number) => T): T {
  const fd = check(`open program id ${id}`, (lib) => lib.bpf_prog_get_fd_by_id(id));
  try {
    return body(fd);
  } finally {
    closeFd(fd);
  }
}

/** The name the program was loaded with (its function name, cut to 15 characters). */
function programName(id: number): string {
  try {
    return withProgramFd(id, (fd) => {
      const info = new CStruct(bpfProgInfo);
      const len = new Uint32Array([bpfProgInfo.size]);
      check(`read program info of id ${id}`, (lib) => lib.bpf_obj_get_info_by_fd(fd, info.ptr, ptr(len)));
      return info.string("name");
    });
  } catch (err) {
    // the program went away between the query and here
    if (err instanceof BpfError && err.errno === errnoCode.ENOENT) return `(gone: ${strerror(errnoCode.ENOENT)})`;
    throw err;
  }
}
