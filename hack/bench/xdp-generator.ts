// The XDP benchmark's traffic generator: XDP frames sent into the receiving veth through its
// ndo_xdp_xmit, as another device's XDP_REDIRECT hands them over, made in the kernel.
//
// It used to be BPF_PROG_TEST_RUN in live-frames mode (BPF_F_TEST_XDP_LIVE_FRAMES), the
// technique of xdp-tools' xdp-trafficgen; this machine's kernel (6.18.44-fc-v1300) refuses
// live frames with EPERM for any program. Now a few packets circulate between two veths, A and
// B, and each turn is copied into the receiver:
//
//   gen_clone    tc ingress of B: bpf_clone_redirect()s the packet FANOUT times out of B (to A),
//                and redirects the packet itself out of A (back to B's ingress): the loop
//   gen_stamp    XDP on A. The veth copies every clone it receives into a page fragment of its
//                own (a clone's head cannot take XDP's headroom); gen_stamp writes the frame
//                template into it, with the next of SOURCES blocked source addresses (read in
//                order) and the IPv4 header checksum to match, counts it and redirects it out of
//                the target veth, whose peer is the receiver
//
// A few UDP datagrams sent out of A (through A's address to a neighbour entry for B's MAC) seed
// the loop; it runs until gen_config says stop, or its deadline passes, and is seeded again if
// it ever dies out. The receiver gets xdp_frames through the veth's ndo_xdp_xmit, as from live
// frames, in page fragments it frees cheaply when it drops them. Two designs that did not do:
// an XDP-only loop copying frames with a devmap broadcast (each copy a fresh page, whose freeing
// took half of the receiver's time: ~500 ns a frame with a drop-only program), and an AF_PACKET
// sender (0.5 Mpps here, the receiver woken for nearly every frame). The same object carries
// xdp_pass and xdp_drop, empty programs: what BPF_PROG_TEST_RUN itself costs per packet, and the
// receive path's own cost per dropped frame.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { createSocket } from "node:dgram";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BpfObject, type BpfProgram } from "../../src/bpf/object";
import { pinObject } from "../../src/bpf/pins";
import { attachXdp, detachXdp, ifIndex } from "../../src/bpf/xdp";

/**
 * Source addresses the generator cycles through, drawn beforehand from the blocked addresses
 * (a power of two: the program masks). A million, so that a pool of 65 536 addresses or more
 * is drawn from throughout, not a few thousand of it.
 */
export const SOURCES = 1 << 20;
/** Copies sent to the receiver for each turn of a packet round the loop. */
export const FANOUT = 8;
/** The frame's length: the template's, and the seeds' (60 bytes: Ethernet's minimum, no FCS). */
export const FRAME_LEN = 60;
/** Datagrams that seed the loop (each one packet circulating). */
const SEEDS = 8;
/** The seeds' UDP payload: 14 + 20 + 8 + 18 = FRAME_LEN. */
const SEED_PAYLOAD = FRAME_LEN - 14 - 20 - 8;

const SOURCE_C = String.raw`
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#define SOURCES ${SOURCES}
#define FANOUT ${FANOUT}
#define FRAME_LEN ${FRAME_LEN}

struct gen_config {
	__u64 deadline_ns;	/* bpf_ktime_get_ns() past which the loop drops its packets */
	__u32 a_ifindex;
	__u32 b_ifindex;
	__u32 target_ifindex;	/* the veth whose peer receives */
	__u32 stop;		/* non-zero: the loop drops its packets */
};

struct gen_frame {
	__u8 bytes[FRAME_LEN];
};

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
	__type(value, __u64);		/* frames stamped by this CPU: the next source's index */
} gen_next SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_config);
} gen_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_frame);
} gen_template SEC(".maps");

SEC("tc")
int gen_clone(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct gen_config *c = bpf_map_lookup_elem(&gen_config, &zero);
	int i;

	if (!c || c->stop || bpf_ktime_get_ns() > c->deadline_ns)
		return TC_ACT_SHOT;
	for (i = 0; i < FANOUT; i++)
		bpf_clone_redirect(skb, c->b_ifindex, 0);
	return bpf_redirect(c->a_ifindex, 0);
}

SEC("xdp")
int gen_stamp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	struct gen_config *c;
	struct gen_frame *t;
	__u32 zero = 0, idx, *src, old, sum;
	__u64 *next;

	if (data + FRAME_LEN > data_end)
		return XDP_DROP;
	c = bpf_map_lookup_elem(&gen_config, &zero);
	t = bpf_map_lookup_elem(&gen_template, &zero);
	next = bpf_map_lookup_elem(&gen_next, &zero);
	if (!c || !t || !next)
		return XDP_DROP;
	idx = *next & (SOURCES - 1);
	*next += 1;
	src = bpf_map_lookup_elem(&gen_sources, &idx);
	if (!src)
		return XDP_DROP;
	__builtin_memcpy(data, t->bytes, FRAME_LEN);
	/* RFC 1624, from the template's source: HC' = ~(~HC + ~m + m') over its two 16-bit words */
	old = ip->saddr;
	ip->saddr = *src;
	sum = (__u16)~ip->check;
	sum += (__u16)~old + (__u16)~(old >> 16);
	sum += (__u16)*src + (__u16)(*src >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	ip->check = ~sum;
	return bpf_redirect(c->target_ifindex, 0);
}

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
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

/** The interfaces (in this process's network namespace) and the loop's seed address. */
export interface GeneratorLinks {
  /** The veth whose peer receives the frames. */
  target: string;
  /** The loop's veth pair: XDP gen_stamp on A, tc gen_clone on B's ingress. */
  loopA: string;
  loopB: string;
  /** An IPv4 address routed out of A whose neighbour entry is B's MAC: where the seeds go. */
  seedTo: string;
}

const u32le = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);

let clock: { clock_gettime: (id: number, ts: ReturnType<typeof ptr>) => number } | undefined;
/** CLOCK_MONOTONIC in ns, the clock of bpf_ktime_get_ns() (Bun's process.hrtime counts from the process's start). */
function monotonicNs(): bigint {
  clock ??= dlopen("libc.so.6", { clock_gettime: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 } }).symbols;
  const ts = new BigInt64Array(2);
  if (clock.clock_gettime(1, ptr(ts)) !== 0) throw new Error("clock_gettime(CLOCK_MONOTONIC) failed");
  return ts[0]! * 1_000_000_000n + ts[1]!;
}

function tc(...args: string[]): void {
  const r = Bun.spawnSync(["tc", ...args], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`generator: tc ${args.join(" ")}: ${r.stderr.toString().trim()}`);
}

/**
 * Sends `frame` (FRAME_LEN bytes) to the target's peer for `seconds`, its source replaced by
 * each of `sources` (SOURCES × 4 bytes) in turn. Calls started() once frames are going out.
 * Returns the frames stamped (sent towards the receiver, whether or not its ring took them)
 * and the time taken.
 */
export async function generate(object: string, links: GeneratorLinks, frame: Uint8Array, sources: Uint8Array, seconds: number, started: () => void): Promise<{ frames: number; seconds: number }> {
  if (sources.length !== SOURCES * 4) throw new Error(`generator: ${sources.length} bytes of sources, expected ${SOURCES * 4}`);
  if (frame.length !== FRAME_LEN) throw new Error(`generator: a ${frame.length}-byte frame, expected ${FRAME_LEN}`);
  const obj = BpfObject.open(object);
  const socket = createSocket("udp4");
  const pinDir = `/sys/fs/bpf/fos1-bench-${process.pid}-gen`;
  const config = (stop: number) => {
    const c = new Uint8Array(24);
    const v = new DataView(c.buffer);
    // a deadline that ends the loop even if this process dies
    v.setBigUint64(0, monotonicNs() + BigInt(Math.ceil((seconds + 2) * 1e9)), true);
    v.setUint32(8, ifIndex(links.loopA), true);
    v.setUint32(12, ifIndex(links.loopB), true);
    v.setUint32(16, ifIndex(links.target), true);
    v.setUint32(20, stop, true);
    return c;
  };
  let loaded = false;
  let stamp: BpfProgram | null = null;
  let clsact = false;
  try {
    obj.load();
    loaded = true;
    const refused = obj.map("gen_sources").updateBatch(new Uint8Array(Uint32Array.from({ length: SOURCES }, (_, i) => i).buffer), sources, SOURCES);
    if (refused.length) throw refused[0]!.error;
    obj.map("gen_template").update(u32le(0), frame);
    obj.map("gen_config").update(u32le(0), config(0));
    attachXdp(links.loopA, obj.program("gen_stamp"), "native");
    stamp = obj.program("gen_stamp");
    mkdirSync(pinDir, { recursive: true, mode: 0o700 });
    pinObject(obj.program("gen_clone").fd, join(pinDir, "clone"));
    tc("qdisc", "add", "dev", links.loopB, "clsact");
    clsact = true;
    tc("filter", "add", "dev", links.loopB, "ingress", "bpf", "direct-action", "object-pinned", join(pinDir, "clone"));
    const next = obj.map("gen_next");
    const stamped = () => (next.lookupPerCpu(u32le(0)) ?? []).reduce((n, slot) => n + Number(new DataView(slot.buffer, slot.byteOffset).getBigUint64(0, true)), 0);
    const payload = new Uint8Array(SEED_PAYLOAD);
    const seed = async () => {
      for (let i = 0; i < SEEDS; i++) await new Promise<void>((ok, fail) => socket.send(payload, 9, links.seedTo, (err) => (err ? fail(err) : ok())));
    };
    await seed();
    let t0 = performance.now();
    while (stamped() === 0) {
      if (performance.now() - t0 > 2000) throw new Error(`generator: no frame went out of ${links.target} within 2 s of seeding the loop`);
      await Bun.sleep(5);
    }
    const [count0, start] = [stamped(), performance.now()];
    started();
    let last = count0;
    for (t0 = start; performance.now() - t0 < seconds * 1000; ) {
      await Bun.sleep(Math.min(100, Math.max(1, seconds * 1000 - (performance.now() - t0))));
      const now = stamped();
      if (now === last) await seed(); // the loop died out (its packets dropped somewhere): seed it again
      last = now;
    }
    return { frames: stamped() - count0, seconds: (performance.now() - start) / 1000 };
  } finally {
    if (loaded) obj.map("gen_config").update(u32le(0), config(1));
    if (clsact) tc("qdisc", "del", "dev", links.loopB, "clsact");
    if (stamp) detachXdp(links.loopA, stamp.name);
    rmSync(pinDir, { recursive: true, force: true });
    socket.close();
    obj.close();
  }
}
