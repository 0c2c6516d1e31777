// Programs pinned on bpffs: pinning keeps a loaded program alive without any process or
// interface holding it, and lets a later process compare it (by id) with what an interface
// runs, or attach it without loading the object again.
import { ptr } from "bun:ffi";
import { check, closeFd, cstr } from "./errors";
import { bpfProgInfo, CStruct } from "./cstructs";
import type { BpfProgram } from "./object";

export function pinObject(fd: number, path: string): void {
  const p = cstr(path);
  check(`pin ${path}`, (lib) => lib.bpf_obj_pin(fd, p));
}

/** The pinned program, with an fd the caller owns (close it with closeProgram). */
export function openPinnedProgram(path: string, name: string): BpfProgram & { id: number } {
  const p = cstr(path);
  const fd = check(`open pinned program ${path}`, (lib) => lib.bpf_obj_get(p));
  try {
    return { name, fd, id: programId(fd) };
  } catch (err) {
    closeFd(fd);
    throw err;
  }
}

export function closeProgram(p: BpfProgram): void {
  closeFd(p.fd);
}

function programId(fd: number): number {
  const info = new CStruct(bpfProgInfo);
  const len = new Uint32Array([bpfProgInfo.size]);
  check(`read program info of fd ${fd}`, (lib) => lib.bpf_obj_get_info_by_fd(fd, info.ptr, ptr(len)));
  return info.get("id");
}
