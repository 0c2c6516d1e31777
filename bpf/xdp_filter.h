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
 * the pinned maps. Changing a map's type, key or value size, or its max_entries (a filter's
 * capacity, its rate limit's tracked sources), makes libbpf refuse to reuse an old pin
 * ("parameter mismatch"): fos1 then loads the filter again with fresh maps, all but
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
 * A packet never walks the list. fos1 writes an index beside it (src/bpf/xdp-index.ts), and
 * the program looks up only the prefix lengths the index names for the packet's source,
 * longest first; any hit drops, and counts on that prefix (so the longest matching prefix
 * counts, as in a longest-prefix-match table).
 *
 * The index, per family: xdpf_index_v4 / xdpf_index_v6, arrays with one u32 per /16 (the
 * source's first 16 bits), 512 KiB each as the kernel allocates them (array values are
 * rounded up to 8 bytes):
 *   - bits 0..15 (XDPF_IX_LONGER): bit 32 - n set when a blocked /n with 17 <= n <= 32 lies
 *     inside the /16;
 *   - bits 16..21 (XDPF_IX_COVER): the longest blocked prefix of length 0..16 covering the
 *     /16, plus 1 (0: none);
 *   - bit 31 (XDPF_IX_LONG, IPv6 only): blocked prefixes longer than /32 lie inside the /16;
 *     their lengths are in xdpf_long_v6 under the source's /32.
 * A source whose /16 word is 0 -- most traffic -- costs one array load. Nothing is expanded:
 * every prefix is one list entry and at most one xdpf_long_v6 entry, so a filter holds exactly
 * as many prefixes as its lists' max_entries, whatever their lengths.
 *
 * A bit may outlive the last prefix that needed it (fos1 leaves it when it unblocks a few
 * prefixes, and clears it when it next computes the whole index): it costs a lookup that
 * finds nothing, never a verdict.
 *
 * No insert can be made to fail by the choice of prefixes: the kernel's hash maps chain their
 * buckets and seed their hash at random per map, and refuse an insert only at max_entries.
 *
 * Sizes. The lists and xdpf_long_v6 hold the filter's capacity per family, which fos1 sets at
 * load (bpf_map__set_max_entries) from the config: XDPF_CAPACITY_DEFAULT unless the filter
 * says otherwise, at most XDPF_CAPACITY_MAX. They are not preallocated: an entry costs memory
 * when written; their bucket arrays (16 bytes per entry of capacity) come with the map.
 */
#define XDPF_CAPACITY_DEFAULT 65536
#define XDPF_CAPACITY_MAX 16777216

#define XDPF_INDEX_SLOTS 65536	/* one per /16 */
#define XDPF_IX_LONGER 0xffff
#define XDPF_IX_COVER_SHIFT 16
#define XDPF_IX_COVER 0x3f0000
#define XDPF_IX_PAGED 0x40000000
#define XDPF_IX_LONG 0x80000000

/*
 * Pages. A /16 whose prefixes have two or more lengths from 17 to 32 would cost a lookup per
 * length for every source in it; fos1 gives such a /16 a page of xdpf_pages_v4 or _v6 instead
 * (XDPF_IX_PAGED set, bits 0..15 the page's number; an IPv6 word keeps XDPF_IX_LONG): a u16 per
 * /24 of the /16, saying which of those lengths can hold the source -- the longest blocked
 * prefix of length 17..24 covering the /24 (XDPF_PG_COVER, the length minus 16; 0: none) and
 * bit 32 - n for a blocked /n with 25 <= n <= 32 inside it (XDPF_PG_INSIDE) -- so a source in a
 * crowded /16 costs a second array load and a lookup only for what lies in its own /24. Nothing
 * is expanded into list entries: a page is an array element whatever it says. The pages are as
 * many as the filter's sizes say (XDPF_PAGES_DEFAULT and XDPF_PAGES_V6_DEFAULT unless set at
 * load: IPv6 lists crowd fewer /16s, with their registries' /19-/32 allocations); /16s beyond
 * them keep their bits and cost a lookup per length. fos1 writes a page before the word that
 * names it, and gives a page number that a word named only to a later change.
 */
/*
 * The seen filter. Most IPv6 /16s of a large list hold prefixes of /32 or longer somewhere, so
 * their words name length 32 or the long flag for every source in them; xdpf_seen_v6 says,
 * without a hash lookup, which /32s hold such a prefix (or are one): a keyed Bloom filter, an
 * array of u64 words (a power of two of them, XDPF_SEEN_V6_DEFAULT unless set at load), a /32
 * setting three bits of one word. Its hash is keyed by xdpf_config.seen_seed, which fos1 draws
 * at random when it makes the maps, so nobody can choose /32s that collide on purpose -- and a
 * collision costs only the lookups the filter would have saved, never a verdict. A /32 the
 * filter has not seen skips xdpf_long_v6 and length 32. fos1 sets a /32's bits before it writes
 * anything that leads to its prefixes, and clears stale bits only when it computes the whole
 * index. The program reads it only while XDPF_F_SEEN is set.
 */
#define XDPF_SEEN_V6_DEFAULT 16384
#define XDPF_SEEN_SALT 0x9e3779b9

#define XDPF_PAGE_SLOTS 256
#define XDPF_PAGES_DEFAULT 4096
#define XDPF_PAGES_V6_DEFAULT 1024
#define XDPF_PG_INSIDE 0xff
#define XDPF_PG_COVER_SHIFT 8
#define XDPF_PG_COVER 0x1f00

#define XDPF_PORT_DENY_MAX 1024
/* xdpf_rate's entries: set at load from the config's rate limit (trackedSources), 1 while no
 * rate limit is configured, so a filter without one does not pay for its LRU.
 */
#define XDPF_RATE_DEFAULT 65536

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

/* xdpf_index_v4, xdpf_index_v6 (BPF_MAP_TYPE_ARRAY, XDPF_INDEX_SLOTS entries): a /16's word. */
struct xdpf_index_slot {
	__u32 bits;		/* XDPF_IX_* */
};

/* xdpf_pages_v4, xdpf_pages_v6 (BPF_MAP_TYPE_ARRAY, as many entries as the filter has pages): a page per crowded /16. */
struct xdpf_page {
	__u16 slot[XDPF_PAGE_SLOTS];	/* by the source's third byte: XDPF_PG_* */
};

/*
 * xdpf_long_v6 (BPF_MAP_TYPE_HASH keyed by the /32, a source's first 32 bits in host byte
 * order): the blocked prefixes longer than /32 inside the /32. Up to XDPF_LONG_INLINE of them
 * are held in the entry itself, longest first (slot[0].prefixlen != 0): the one lookup of the
 * /32 then says whether a prefix longer than /32 covers the source, and which, and the drop is
 * counted in its slot, not in xdpf_block_v6 (fos1 adds the two when it reports a prefix's
 * count). A /32 holding more has their lengths in longer_lo / longer_hi instead (the slots
 * empty), each looked up in xdpf_block_v6.
 *
 * A slot is a verdict, unlike a length bit: fos1 takes a prefix out of its /32's slots before it
 * takes it out of the list (as it does a cover), and fos1 folds a slot's count into the
 * prefix's list entry whenever it rewrites the /32's entry.
 */
#define XDPF_LONG_INLINE 4

struct xdpf_long_slot {
	__u32 prefixlen;	/* 33..128; 0: this slot and those after it are empty */
	__u8 addr[12];		/* the prefix's bytes 4..15, network byte order, host bits zero */
	__u64 packets;		/* dropped by this prefix while it is held here */
};

struct xdpf_long_v6 {
	__u32 longer_lo;	/* bit i: length 64 - i (33..64) */
	__u32 longer_hi[2];	/* bit i of [0]: length 128 - i (97..128); of [1]: 96 - i (65..96) */
	__u32 pad;		/* 0 */
	struct xdpf_long_slot slot[XDPF_LONG_INLINE];
};

/* xdpf_port_deny (BPF_MAP_TYPE_HASH): destination ports to drop. */
struct xdpf_port_key {
	__u16 port;		/* host byte order */
	__u8 proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;		/* must be 0: it is part of the hashed key */
};

/* xdpf_config.flags */
#define XDPF_F_PORTS 0x1	/* xdpf_port_deny has entries: look destination ports up */
#define XDPF_F_SEEN 0x2		/* xdpf_seen_v6 is kept for seen_seed and seen_mask: read it */

/* xdpf_config (BPF_MAP_TYPE_ARRAY, one entry): what the program needs besides the maps, read
 * once per packet. Written by fos1 under the filter's lock, like every map (xdp-filter.ts).
 * rate_pps == 0 turns the rate limit off. Sources are grouped by prefix: an IPv6 host usually
 * owns a whole /64.
 */
struct xdpf_config {
	__u32 flags;		/* XDPF_F_* */
	__u32 rate_v4_prefix;	/* source prefix length one bucket covers, 0..32 */
	__u32 rate_v6_prefix;	/* 0..128 */
	__u32 seen_seed;	/* xdpf_seen_v6's hash key, drawn at random with the maps */
	__u64 rate_pps;		/* tokens added per second, per source prefix */
	__u64 burst;		/* bucket size in packets (0 counts as 1) */
	__u32 seen_mask;	/* xdpf_seen_v6's entries - 1 */
	__u32 pad;		/* 0 */
};

/* xdpf_seen_v6 (BPF_MAP_TYPE_ARRAY): a word of the seen filter. */
struct xdpf_seen_word {
	__u64 bits;
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
