// The XDP benchmark's traffic generator: BPF_PROG_TEST_RUN in live-frames mode
// (BPF_F_TEST_XDP_LIVE_FRAMES, kernel 5.18+), the technique of xdp-tools' xdp-trafficgen —
// whose 1.3.1 build in Debian fails to load on this kernel (it needs the xdp_redirect_map_err
// tracepoint, since removed). The kernel runs gen_tx on a UDP frame `repeat` times; each run
// writes the next of SOURCES blocked source addresses into the frame (fixing the IPv4 header
// checksum) and returns XDP_TX, which test-run turns into a transmission out of the given
// interface: on a veth, straight into the peer's receive ring as an XDP frame, as a NIC's
// driver would hand it over. The same object carries xdp_pass, an empty program: what
// BPF_PROG_TEST_RUN itself costs per packet, the floor under every ns/packet figure.
import { ptr } from "bun:ffi";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { check } from "../../src/bpf/errors";
import { bpfTestRunOpts, CStruct } from "../../src/bpf/cstructs";
import { BpfObject } from "../../src/bpf/object";
import { ifIndex } from "../../src/bpf/xdp";

/** Source addresses the generator cycles through (a power of two: the program masks). */
export const SOURCES = 4096;

const SOURCE_C = String.raw`
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>

#define SOURCES ${SOURCES}

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SOURCES);
	__type(key, __u32);
	__type(value, __u32);		/* an IPv4 address, network byte order */
} gen_sources SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);		/* frames sent by this CPU: the next source's index */
} gen_next SEC(".maps");

SEC("xdp")
int gen_tx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	__u32 zero = 0, idx, *src, old, sum;
	__u64 *next;

	if ((void *)(ip + 1) > data_end)
		return XDP_ABORTED;
	next = bpf_map_lookup_elem(&gen_next, &zero);
	if (!next)
		return XDP_ABORTED;
	idx = *next & (SOURCES - 1);
	*next += 1;
	src = bpf_map_lookup_elem(&gen_sources, &idx);
	if (!src)
		return XDP_ABORTED;
	/* The frame is recycled between runs: rewrite from whatever it holds now. RFC 1624:
	 * HC' = ~(~HC + ~m + m'), over the address's two 16-bit words.
	 */
	old = ip->saddr;
	ip->saddr = *src;
	sum = (__u16)~ip->check;
	sum += (__u16)~old + (__u16)~(old >> 16);
	sum += (__u16)*src + (__u16)(*src >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	ip->check = ~sum;
	return XDP_TX;
}

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
`;

/** Compiles the generator into dir (clang, as the Makefile builds bpf/); its object's path. */
export function compileGenerator(dir: string): string {
  const src = join(dir, "xdp_gen.c");
  const obj = join(dir, "xdp_gen.o");
  writeFileSync(src, SOURCE_C);
  const arch = process.arch === "arm64" ? "aarch64" : "x86_64";
  const r = Bun.spawnSync(["clang", "-O2", "-g", "-Wall", "-Werror", "-target", "bpf", `-I/usr/include/${arch}-linux-gnu`, "-c", src, "-o", obj], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`compiling the traffic generator failed:\n${r.stderr.toString()}`);
  return obj;
}

const BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1;
// Frames per call: small enough to stop within ~20 ms of the deadline at a few Mpps.
const REPEAT = 1 << 16;
// Frames test-run sends before it flushes the transmit queue (the kernel's maximum).
const BATCH = 256;

/**
 * Sends `frame` out of ifname (in this process's network namespace) for `seconds`, its source
 * replaced by each of `sources` (SOURCES × 4 bytes) in turn. Calls started() once the program
 * is loaded and the first frames are out. Returns the frames sent and the time taken.
 */
export function generate(object: string, ifname: string, frame: Uint8Array, sources: Uint8Array, seconds: number, started: () => void): { frames: number; seconds: number } {
  if (sources.length !== SOURCES * 4) throw new Error(`generator: ${sources.length} bytes of sources, expected ${SOURCES * 4}`);
  const obj = BpfObject.open(object);
  try {
    obj.load();
    const prog = obj.program("gen_tx");
    const map = obj.map("gen_sources");
    for (let i = 0; i < SOURCES; i++) map.update(new Uint8Array(new Uint32Array([i]).buffer), sources.subarray(i * 4, i * 4 + 4));
    // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex
    const ctx = new Uint32Array([0, frame.length, 0, ifIndex(ifname), 0, 0]);
    const opts = new CStruct(bpfTestRunOpts)
      .set("data_in", ptr(frame))
      .set("data_size_in", frame.length)
      .set("ctx_in", ptr(ctx))
      .set("ctx_size_in", ctx.byteLength)
      .set("repeat", REPEAT)
      .set("flags", BPF_F_TEST_XDP_LIVE_FRAMES)
      .set("batch_size", BATCH);
    const send = () => check(`send frames out of ${ifname}`, (lib) => lib.bpf_prog_test_run_opts(prog.fd, opts.ptr));
    const t0 = performance.now();
    send();
    started();
    let frames = REPEAT;
    while (performance.now() - t0 < seconds * 1000) {
      send();
      frames += REPEAT;
    }
    return { frames, seconds: (performance.now() - t0) / 1000 };
  } finally {
    obj.close();
  }
}
