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
 * the pinned maps. Changing a map's type, key or value size makes libbpf refuse to reuse an
 * old pin ("parameter mismatch"): fos1 then loads the filter again with fresh maps, all but
 * the counters (src/engine/xdp/apply.ts), and fills them from its config; the old program keeps
 * filtering with its own maps until the new one replaces it on the interfaces.
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

/*
 * Blocklists. Each blocked prefix is one entry of xdpf_block_v4 / xdpf_block_v6 (hash maps
 * keyed by the prefix, valued by the packets it dropped): that is the list, and its counters.
 * A packet never walks the list. fos1 computes an index from the whole list and writes it
 * beside it (src/bpf/xdp-index.ts), and the program looks up only the prefix lengths the index
 * names for the packet's source, longest first; any hit drops, and counts on that prefix
 * (so the longest matching prefix counts, as in a longest-prefix-match table).
 *
 * IPv4: xdpf_index_v4, an array with one byte per /24 of the address space (16 MiB): the
 * longest blocked prefix of length 0..24 covering the /24, and whether /32s or /25../31s lie
 * inside it. A source whose /24 byte is 0 -- most traffic -- costs one array load.
 *
 * IPv6: xdpf_index_v6, a hash table of /32s (the first 32 bits of a source) that fos1 builds in
 * an array -- an array's lookup costs the program next to nothing, a kernel hash map's about
 * as much as the rest of the packet. Cuckoo hashing: a /32 sits in one of two buckets of
 * XDPF_V6_WAYS slots, bucket (top * XDPF_V6_HASH1) >> (32 - XDPF_V6_BUCKET_BITS) or the same
 * with XDPF_V6_HASH2, so a lookup reads two buckets at most. A /32 has a slot when a blocked
 * prefix of length 20..32 covers it (the longest such length is kept) or when it holds longer
 * blocked prefixes (a bitmap of their lengths). A source whose /32 has no slot costs two
 * bucket reads. Prefixes shorter than /20 would expand to too many /32s: their lengths are
 * listed in xdpf_config (v6_short) and looked up for every packet.
 *
 * Sizes: both lists hold 2^20 (1 048 576) prefixes, the IPv6 index 2^20 slots (cuckoo
 * hashing fills them to about 97 %). The lists are hash maps that are not preallocated, so
 * their entries cost memory only when written, but their bucket arrays (16 bytes a bucket,
 * 2^20 buckets: 16 MiB each), the IPv4 index (16 MiB) and the IPv6 index (20 MiB) are
 * allocated with the map: 68 MiB per loaded filter before its first prefix.
 */
#define XDPF_BLOCK_V4_MAX 1048576
#define XDPF_BLOCK_V6_MAX 1048576

/* The IPv4 index: 2^24 bytes in pages of XDPF_INDEX_V4_PAGE, one array element each. */
#define XDPF_INDEX_V4_PAGE 4096
#define XDPF_INDEX_V4_PAGES 4096

/* An IPv4 index byte. */
#define XDPF_V4_COVER 0x3f	/* longest blocked prefix of length 0..24 covering the /24, plus 1; 0: none */
#define XDPF_V4_HAS_MID 0x40	/* blocked prefixes of length 25..31 inside the /24 (lengths: v4_mid) */
#define XDPF_V4_HAS_HOST 0x80	/* blocked /32s inside the /24 */

/* IPv6 prefixes of length XDPF_V6_EXPAND_MIN..32 are written into xdpf_index_v6 as every /32
 * they cover (at most 2^12 each); shorter ones are probed by length (v6_short).
 */
#define XDPF_V6_EXPAND_MIN 20

/* The IPv6 index's buckets and its two hash functions (multiplicative: odd 32-bit constants,
 * the product's top XDPF_V6_BUCKET_BITS bits).
 */
#define XDPF_V6_BUCKET_BITS 17
#define XDPF_V6_BUCKETS 131072
#define XDPF_V6_WAYS 8
#define XDPF_V6_HASH1 0x9e3779b1
#define XDPF_V6_HASH2 0x85ebca77
#define XDPF_V6_USED 0x100	/* xdpf_index_v6_slot.cover: the slot holds a /32 */

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

/* Keys of xdpf_block_v4 / xdpf_block_v6: a prefix, its host bits zero. */
struct xdpf_prefix_v4 {
	__u32 prefixlen;	/* 0..32 */
	__u8 addr[4];		/* network byte order */
};

struct xdpf_prefix_v6 {
	__u32 prefixlen;	/* 0..128 */
	__u8 addr[16];		/* network byte order */
};

/* Value of the blocklists and of xdpf_port_deny: packets dropped by this entry, added to
 * atomically by every CPU. Userspace writes 0 when it adds an entry.
 */
struct xdpf_hits {
	__u64 packets;
};

/* xdpf_index_v4 (BPF_MAP_TYPE_ARRAY, XDPF_INDEX_V4_PAGES entries): byte i of element p
 * describes the /24 numbered p * XDPF_INDEX_V4_PAGE + i (the address's first 24 bits).
 */
struct xdpf_index_v4_page {
	__u8 slot[XDPF_INDEX_V4_PAGE];
};

/* xdpf_index_v6 (BPF_MAP_TYPE_ARRAY, XDPF_V6_BUCKETS entries): the buckets. */
struct xdpf_index_v6_slot {
	__u32 top;		/* the /32: a source's first 32 bits, host byte order */
	__u32 longer_lo;	/* bit i: blocked prefixes of length 64 - i inside the /32 (33..64) */
	__u32 longer_hi[2];	/* bit i of [0]: length 128 - i (97..128); of [1]: 96 - i (65..96) */
	__u32 cover;		/* XDPF_V6_USED | the longest blocked prefix of length 20..32 covering the /32, or 0 */
};

struct xdpf_index_v6_bucket {
	struct xdpf_index_v6_slot slot[XDPF_V6_WAYS];
};

/* xdpf_port_deny (BPF_MAP_TYPE_HASH): destination ports to drop. */
struct xdpf_port_key {
	__u16 port;		/* host byte order */
	__u8 proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;		/* must be 0: it is part of the hashed key */
};

/* xdpf_config.flags */
#define XDPF_F_PORTS 0x1	/* xdpf_port_deny has entries: look destination ports up */

/* xdpf_config (BPF_MAP_TYPE_ARRAY, one entry): what the program needs besides the maps, read
 * once per packet. Written by fos1 under the filter's lock, like every map (xdp-filter.ts).
 * rate_pps == 0 turns the rate limit off. Sources are grouped by prefix: an IPv6 host usually
 * owns a whole /64.
 */
struct xdpf_config {
	__u32 flags;		/* XDPF_F_* */
	__u32 v4_mid;		/* bit n: some blocked IPv4 prefix has length n (25..31 only) */
	__u32 v6_short;		/* bit n: some blocked IPv6 prefix has length n (0..XDPF_V6_EXPAND_MIN-1 only) */
	__u32 rate_v4_prefix;	/* source prefix length one bucket covers, 0..32 */
	__u32 rate_v6_prefix;	/* 0..128 */
	__u32 pad;		/* 0 */
	__u64 rate_pps;		/* tokens added per second, per source prefix */
	__u64 burst;		/* bucket size in packets (0 counts as 1) */
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
