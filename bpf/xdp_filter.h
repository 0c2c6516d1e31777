/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xdp_filter: the maps and structs shared by the eBPF program (xdp_filter.c) and fos1.
 *
 * This header is the one definition of the layout. src/bpf/layout.ts mirrors it field by
 * field, and fos1 compares that mirror with the BTF of the built object before it loads the
 * object (and test/unit/xdp-layout.test.ts does the same), so a change here that is not made
 * there is refused instead of writing garbage into the maps.
 *
 * Every map is pinned by name under the pin root fos1 chooses (default /sys/fs/bpf/fos1/), so
 * the blocklists, the rate-limit state and the counters outlive the agent; a new agent reuses
 * the pinned maps. Changing a map's key or value size makes libbpf refuse to reuse an old pin
 * ("parameter mismatch"): such a change needs the old pins removed, on purpose.
 */
#ifndef FOS1_XDP_FILTER_H
#define FOS1_XDP_FILTER_H

#include <linux/types.h>

/* At most this many VLAN tags (802.1Q 0x8100 or 802.1ad 0x88a8) are skipped: one C-tag, or an
 * S-tag and a C-tag (QinQ). A frame with more tags is passed as "not IP".
 */
#define XDPF_VLAN_MAX 2

/* At most this many IPv6 extension headers are walked. A longer chain is passed (after the
 * source checks, which only need the fixed header) and counted as XDPF_PASS_EXT_LIMIT.
 */
#define XDPF_IPV6_EXT_MAX 6

/* Map sizes. The LPM tries and the port map are not preallocated (LPM tries cannot be);
 * the LRU rate-limit table is, so the datapath never allocates.
 */
#define XDPF_BLOCK_V4_MAX 65536
#define XDPF_BLOCK_V6_MAX 65536
#define XDPF_PORT_DENY_MAX 1024
#define XDPF_RATE_MAX 65536

/* Why a packet got its verdict: the index into the per-CPU xdpf_stats array. Every packet
 * is counted under exactly one reason. Numbers are ABI (pinned counters survive upgrades):
 * append, never renumber.
 */
enum xdpf_reason {
	XDPF_PASS = 0,		/* parsed, no rule matched */
	XDPF_PASS_NOT_IP = 1,	/* not IPv4/IPv6 (ARP, LLDP, a third VLAN tag, ...) */
	XDPF_PASS_FRAGMENT = 2,	/* a non-first fragment: source checked, no ports to check */
	XDPF_PASS_EXT_LIMIT = 3,	/* IPv6 extension chain longer than XDPF_IPV6_EXT_MAX */
	XDPF_MALFORMED = 4,	/* truncated or invalid header: passed, the stack decides */
	XDPF_DROP_BLOCK_V4 = 5,	/* source in xdpf_block_v4 */
	XDPF_DROP_BLOCK_V6 = 6,	/* source in xdpf_block_v6 */
	XDPF_DROP_PORT = 7,	/* TCP/UDP destination port in xdpf_port_deny */
	XDPF_DROP_RATE = 8,	/* source over its token bucket */
	XDPF_REASON_MAX = 9,
};

/* xdpf_block_v4 / xdpf_block_v6 (BPF_MAP_TYPE_LPM_TRIE): source prefixes to drop. The
 * longest matching prefix wins, which only matters for its hit counter: any match drops.
 */
struct xdpf_lpm_v4 {
	__u32 prefixlen;	/* 0..32 */
	__u8 addr[4];		/* network byte order */
};

struct xdpf_lpm_v6 {
	__u32 prefixlen;	/* 0..128 */
	__u8 addr[16];		/* network byte order */
};

/* Value of the blocklists and of xdpf_port_deny: packets dropped by this entry, added to
 * atomically by every CPU. Userspace writes 0 when it adds an entry.
 */
struct xdpf_hits {
	__u64 packets;
};

/* xdpf_port_deny (BPF_MAP_TYPE_HASH): destination ports to drop. */
struct xdpf_port_key {
	__u16 port;		/* host byte order */
	__u8 proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;		/* must be 0: it is part of the hashed key */
};

/* xdpf_config (BPF_MAP_TYPE_ARRAY, one entry): the per-source rate limit. rate_pps == 0
 * turns it off. Sources are grouped by prefix: an IPv6 host usually owns a whole /64.
 */
struct xdpf_config {
	__u64 rate_pps;		/* tokens added per second, per source prefix */
	__u64 burst;		/* bucket size in packets (0 counts as 1) */
	__u32 rate_v4_prefix;	/* source prefix length one bucket covers, 0..32 */
	__u32 rate_v6_prefix;	/* 0..128 */
};

/* xdpf_rate (BPF_MAP_TYPE_LRU_HASH): one token bucket per source prefix. */
struct xdpf_rate_key {
	__u8 family;		/* 4 or 6 */
	__u8 prefixlen;		/* the prefix length the bucket was keyed with */
	__u8 pad[2];		/* 0 */
	__u8 addr[16];		/* masked source; IPv4 in the first 4 bytes, rest 0 */
};

struct xdpf_rate_state {
	__u64 tokens;		/* in nanotokens: one packet costs XDPF_NANO */
	__u64 last_ns;		/* bpf_ktime_get_ns() of the last refill */
};

#define XDPF_NANO 1000000000ULL

/* xdpf_stats (BPF_MAP_TYPE_PERCPU_ARRAY, XDPF_REASON_MAX entries): per-CPU counters by
 * reason; userspace sums the CPUs.
 */
struct xdpf_counter {
	__u64 packets;
	__u64 bytes;
};

#endif /* FOS1_XDP_FILTER_H */
