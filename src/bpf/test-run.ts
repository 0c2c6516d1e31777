// BPF_PROG_TEST_RUN (bpf_prog_test_run_opts): the kernel runs a loaded program on a packet
// given here and returns its verdict and the packet as the program left it -- the real
// verifier-checked code on the real kernel, without an interface. The way Cilium tests its
// datapath (bpf/tests/), and the way fos1 tests xdp_filter.c.
import { ptr } from "bun:ffi";
import { check } from "./errors";
import { bpfTestRunOpts, CStruct } from "./cstructs";
import type { BpfProgram } from "./object";

/** XDP actions (enum xdp_action in linux/bpf.h). */
export const XdpAction = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 } as const;
export type XdpActionName = keyof typeof XdpAction;

export function xdpActionName(retval: number): XdpActionName | `unknown(${number})` {
  const hit = (Object.keys(XdpAction) as XdpActionName[]).find((k) => XdpAction[k] === retval);
  return hit ?? `unknown(${retval})`;
}

export interface TestRunResult {
  /** The program's return value (for XDP, an XdpAction). */
  retval: number;
  /** The packet after the program (XDP may move its head or tail). */
  data: Uint8Array;
  /** Mean run time per repetition as the kernel measured it, in ns. */
  durationNs: number;
}

// Room for an XDP program that grows the packet (bpf_xdp_adjust_head/tail).
const SLACK = 4096;

/**
 * Runs prog on data `repeat` times (default 1; the result is the last run's). The kernel
 * refuses packets shorter than an Ethernet header (EINVAL) or longer than a page less its
 * head- and tailroom.
 */
export function testRun(prog: BpfProgram, data: Uint8Array, opts: { repeat?: number } = {}): TestRunResult {
  const out = new Uint8Array(data.length + SLACK);
  // the kernel reads nothing at a zero-length pointer, but bun:ffi cannot point at 0 bytes
  const input = data.length > 0 ? data : new Uint8Array(1);
  const o = new CStruct(bpfTestRunOpts)
    .set("data_in", ptr(input))
    .set("data_size_in", data.length)
    .set("data_out", ptr(out))
    .set("data_size_out", out.length)
    .set("repeat", opts.repeat ?? 1);
  check(`test-run program ${prog.name} on ${data.length} bytes`, (lib) => lib.bpf_prog_test_run_opts(prog.fd, o.ptr));
  return {
    retval: o.get("retval"),
    data: out.slice(0, o.get("data_size_out")),
    durationNs: o.get("duration"),
  };
}
