// The xdp phase of apply: every op through src/bpf (libbpf over bun:ffi), no ip or bpftool
// process. Ops arrive in plan order (load, map entries, detach, attach, unload); each
// failure is reported against its op and the rest still runs.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { XdpFilter, XdpFilterMaps } from "../../bpf/xdp-filter";
import { attachXdp, detachXdp } from "../../bpf/xdp";
import { closeProgram, openPinnedProgram, pinObject } from "../../bpf/pins";
import type { PortProto } from "../../bpf/layout";
import type { Op } from "../plan";
import type { OpFailure } from "../apply";
import type { XdpAction } from "./plan";
import { filterDir, PROGRAM_NAME } from "./model";
import { bpfObjectPath } from "./object-path";

export function applyXdp(ops: Op[]): OpFailure[] {
  const failed: OpFailure[] = [];
  const maps = new Map<string, XdpFilterMaps>();
  const mapsOf = (filter: string) => {
    let m = maps.get(filter);
    if (!m) maps.set(filter, (m = XdpFilterMaps.openPinned(filterDir(filter))));
    return m;
  };
  try {
    for (const op of ops) {
      try {
        run(JSON.parse(op.line) as XdpAction, mapsOf, () => {
          for (const m of maps.values()) m.close();
          maps.clear();
        });
      } catch (err) {
        failed.push({ op, error: (err as Error).message });
      }
    }
  } finally {
    for (const m of maps.values()) m.close();
  }
  return failed;
}

function run(a: XdpAction, mapsOf: (f: string) => XdpFilterMaps, closeMaps: () => void): void {
  switch (a.do) {
    case "load":
      return loadFilter(a.filter);
    case "block":
      // A dynamic block that expired since the plan was made: the agent has already removed
      // it everywhere else (or is about to), and must not find it written back here.
      if (a.until && Date.parse(a.until) <= Date.now()) return;
      return mapsOf(a.filter).block(a.prefix);
    case "unblock":
      mapsOf(a.filter).unblock(a.prefix);
      return;
    case "deny-port":
    case "allow-port": {
      const [proto, port] = a.port.split("/") as [PortProto, string];
      if (a.do === "deny-port") mapsOf(a.filter).denyPort(proto, Number(port));
      else mapsOf(a.filter).allowPort(proto, Number(port));
      return;
    }
    case "rate":
      return mapsOf(a.filter).setRateLimit(a.rate);
    case "attach": {
      const prog = openPinnedProgram(join(filterDir(a.filter), PROGRAM_NAME), PROGRAM_NAME);
      try {
        if (a.detachFirst) detachXdp(a.ifname, PROGRAM_NAME);
        attachXdp(a.ifname, prog, a.mode);
      } finally {
        closeProgram(prog);
      }
      return;
    }
    case "detach":
      detachXdp(a.ifname, PROGRAM_NAME);
      return;
    case "unload":
      closeMaps();
      // Unpinning drops fos1's references; a program still attached somewhere would live on,
      // which is why detaches come first in the plan.
      rmSync(filterDir(a.filter), { recursive: true, force: true });
      return;
  }
}

/** Loads the object with its maps pinned in the filter's dir (reused if there), and pins the program. */
function loadFilter(name: string): void {
  const dir = filterDir(name);
  const f = XdpFilter.load({ object: bpfObjectPath(), pinRoot: dir });
  try {
    const pin = join(dir, PROGRAM_NAME);
    rmSync(pin, { force: true }); // a pin whose program could not be read (plan saw none)
    pinObject(f.program.fd, pin);
  } finally {
    f.close();
  }
}
