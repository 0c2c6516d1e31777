// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_filter: early drop on fos1's uplinks, before the stack spends anything on a packet.
 *
 * Parses Ethernet, up to two VLAN tags (802.1Q, or 802.1ad + 802.1Q), IPv4 (options
 * included), IPv6 (a bounded walk over extension headers), TCP, UDP, ICMP and ICMPv6, and
 * drops a packet when
 *   - its source is in a blocklist (IPv4 and IPv6 prefixes, found through an index fos1
 *     computes: see xdp_filter.h),
 *   - it is TCP or UDP to a denied destination port, or
 *   - its source prefix is over its token bucket (when a rate is configured),
 * in that order, so blocked sources never use rate-limit state. Everything else is passed
 * untouched: the program never rewrites a packet.
 *
 * Policy for what cannot be parsed -- never drop by accident:
 *   - A check runs only when every byte it needs was parsed: the source checks (blocklist,
 *     rate limit) need the whole IP header (IPv4 options included, IPv6's fixed header); the
 *     port check needs the whole fixed TCP (20 bytes, data offset >= 5) or UDP (8) header.
 *   - A packet whose Ethernet, VLAN or IP header is truncated or invalid (IPv4 version or
 *     IHL, total length below the header; IPv6 version) is passed and counted as
 *     XDPF_MALFORMED: the kernel's own checks drop it anyway, and a parser bug here must not
 *     black-hole traffic. A packet whose IP header is fine but whose transport or extension
 *     headers are truncated (against the frame or against the IP length) gets the source
 *     checks, then passes as XDPF_MALFORMED.
 *   - Non-first fragments carry no transport header: source checks only, XDPF_PASS_FRAGMENT.
 *   - An IPv6 extension chain longer than XDPF_IPV6_EXT_MAX: source checks only,
 *     XDPF_PASS_EXT_LIMIT.
 *   - Checksums are not verified (the stack does that); nothing here depends on them.
 *
 * CO-RE: the program reads packet bytes and its own maps only, never a kernel structure, so
 * it needs no relocations; the object carries BTF (map definitions, the layout fos1 checks).
 * It needs kernel 5.17 or later (bpf_loop; global BPF functions, verified once each).
 *
 * Cost. What every packet pays is kept to array loads, which the verifier inlines: the
 * configuration and the index word of the source's /16. A kernel hash lookup (a blocked
 * prefix's counter, an IPv6 /32's longer lengths, a denied port) or a call to a global
 * function each cost about as much as all the rest of a packet, so they are paid only where
 * the index says a blocked prefix may cover the source, or where port denies or a rate limit
 * are configured (xdpf_config).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xdp_filter.h"

/* Not in the UAPI headers: the kernel keeps struct vlan_hdr and struct frag_hdr internal. */
struct vlan_hdr {
	__be16 h_vlan_TCI;
	__be16 h_vlan_encapsulated_proto;
};

struct ipv6_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;	/* offset in 8-byte units << 3, then 2 reserved bits and M */
	__be32 identification;
};

#define IPV4_FRAG_OFFSET 0x1fff
#define IPV6_FRAG_OFFSET 0xfff8

/* IPv6 extension headers with the generic "next header, length in 8 octets - 1" format:
 * hop-by-hop options, routing, destination options, mobility, HIP and shim6 (RFC 8200
 * section 4 and the IANA list). AH has its own length unit; ESP hides everything after it
 * and ends the walk like a transport protocol.
 */
#define NEXTHDR_MOBILITY 135
#define NEXTHDR_HIP 139
#define NEXTHDR_SHIM6 140

/* No header is looked for beyond this offset: XDP without frags sees at most one page of
 * linear data, and the bound lets the verifier prove every variable-offset access.
 */
#define XDPF_MAX_OFF 4096

/* The lists' and xdpf_long_v6's max_entries are the filter's capacity, set by fos1 at load. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDPF_CAPACITY_DEFAULT);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, struct xdpf_prefix_v4);
	__type(value, struct xdpf_hits);
} xdpf_block_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDPF_CAPACITY_DEFAULT);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, struct xdpf_prefix_v6);
	__type(value, struct xdpf_hits);
} xdpf_block_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XDPF_INDEX_SLOTS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, __u32);
	__type(value, struct xdpf_index_slot);
} xdpf_index_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XDPF_INDEX_SLOTS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, __u32);
	__type(value, struct xdpf_index_slot);
} xdpf_index_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDPF_CAPACITY_DEFAULT);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, __u32);
	__type(value, struct xdpf_long_v6);
} xdpf_long_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XDPF_PAGES_DEFAULT);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, __u32);
	__type(value, struct xdpf_page);
} xdpf_pages_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XDPF_PAGES_V6_DEFAULT);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, __u32);
	__type(value, struct xdpf_page);
} xdpf_pages_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XDPF_SEEN_V6_DEFAULT);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, __u32);
	__type(value, struct xdpf_seen_word);
} xdpf_seen_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDPF_PORT_DENY_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, struct xdpf_port_key);
	__type(value, struct xdpf_hits);
} xdpf_port_deny SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, __u32);
	__type(value, struct xdpf_config);
} xdpf_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XDPF_RATE_DEFAULT);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, struct xdpf_rate_key);
	__type(value, struct xdpf_rate_state);
} xdpf_rate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPF_REASON_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, __u32);
	__type(value, struct xdpf_counter);
} xdpf_stats SEC(".maps");

/*
 * The bytes [off, off + len) of the packet, or NULL when the frame is shorter. Every header
 * is reached through here, so no read can go past data_end whatever the header fields say.
 */
static __always_inline void *header(struct xdp_md *ctx, __u32 off, __u32 len)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	void *p;

	if (off > XDPF_MAX_OFF)
		return NULL;
	p = data + off;
	if (p + len > data_end)
		return NULL;
	return p;
}

/* Counts the packet under its reason and turns the reason into the XDP action. */
static __always_inline int verdict(struct xdp_md *ctx, enum xdpf_reason reason)
{
	__u32 key = reason;
	struct xdpf_counter *c = bpf_map_lookup_elem(&xdpf_stats, &key);

	if (c) {
		/* per-CPU value: no other CPU writes it, no atomic needed */
		c->packets += 1;
		c->bytes += ctx->data_end - ctx->data;
	}
	return reason >= XDPF_DROP_BLOCK_V4 ? XDP_DROP : XDP_PASS;
}

/* Keeps the first `bits` bits (0..64) of a big-endian 64-bit word. */
static __always_inline __u64 mask_be64(__u64 be, __u32 bits)
{
	if (bits == 0)
		return 0;
	if (bits >= 64)
		return be;
	return bpf_cpu_to_be64(bpf_be64_to_cpu(be) & (~0ULL << (64 - bits)));
}

/*
 * Token bucket of the source's prefix, whose address is at saddr_off in the packet:
 * XDPF_DROP_RATE when the packet is over the rate, else XDPF_PASS. The read-modify-write of a
 * bucket is not atomic: packets of one source handled on several CPUs at the same instant race
 * on it, which makes the limit approximate by about one packet per race. A lock per packet
 * would cost more than that.
 *
 * A global function: the verifier checks it once, not once for every parse path that reaches
 * it (the IPv6 walk alone makes hundreds of those). Calling one costs as much as a hash
 * lookup, which only a packet that meets a rate limit pays. Its prototype also puts enum
 * xdpf_reason in the object's BTF, where fos1 checks its mirror of the enum.
 */
__noinline enum xdpf_reason xdpf_over_rate(struct xdp_md *ctx, __u32 family, __u32 saddr_off)
{
	struct xdpf_rate_key key = {};
	struct xdpf_rate_state fresh, *st;
	struct xdpf_config *cfg;
	__u64 rate, full, fill_ns, elapsed, tokens, now;
	__u64 hi = 0, lo = 0;
	__u32 zero = 0, plen;

	cfg = bpf_map_lookup_elem(&xdpf_config, &zero);
	if (!cfg)
		return XDPF_PASS;
	rate = cfg->rate_pps;
	if (!rate)
		return XDPF_PASS;
	full = (cfg->burst ? cfg->burst : 1) * XDPF_NANO;

	key.family = family;
	if (family == 4) {
		const __be32 *saddr = header(ctx, saddr_off, 4);
		__u32 a;

		if (!saddr)
			return XDPF_PASS;
		plen = cfg->rate_v4_prefix > 32 ? 32 : cfg->rate_v4_prefix;
		__builtin_memcpy(&a, saddr, 4);
		/* the address sits in the high half of a big-endian 64-bit word */
		hi = mask_be64(bpf_cpu_to_be64((__u64)bpf_ntohl(a) << 32), plen);
	} else {
		const __u8 *saddr = header(ctx, saddr_off, 16);

		if (!saddr)
			return XDPF_PASS;
		plen = cfg->rate_v6_prefix > 128 ? 128 : cfg->rate_v6_prefix;
		__builtin_memcpy(&hi, saddr, 8);
		__builtin_memcpy(&lo, saddr + 8, 8);
		hi = mask_be64(hi, plen);
		lo = mask_be64(lo, plen > 64 ? plen - 64 : 0);
	}
	key.prefixlen = plen;
	__builtin_memcpy(key.addr, &hi, 8);
	__builtin_memcpy(key.addr + 8, &lo, 8);

	now = bpf_ktime_get_ns();
	st = bpf_map_lookup_elem(&xdpf_rate, &key);
	if (!st) {
		/* a new source starts with a full bucket and spends one token */
		fresh.tokens = full - XDPF_NANO;
		fresh.last_ns = now;
		bpf_map_update_elem(&xdpf_rate, &key, &fresh, BPF_ANY);
		return XDPF_PASS;
	}

	/* Refill. Past fill_ns the bucket is full anyway; below it elapsed * rate < full, so
	 * the product cannot overflow for any burst fos1 accepts.
	 */
	elapsed = now > st->last_ns ? now - st->last_ns : 0;
	fill_ns = full / rate;
	tokens = st->tokens;
	if (elapsed >= fill_ns) {
		tokens = full;
	} else {
		tokens += elapsed * rate;
		if (tokens > full)
			tokens = full;
	}
	st->last_ns = now;
	if (tokens < XDPF_NANO) {
		st->tokens = tokens;
		return XDPF_DROP_RATE;
	}
	st->tokens = tokens - XDPF_NANO;
	return XDPF_PASS;
}

/*
 * The transport header at l4off, which must end within both the frame and the IP packet
 * (ip_end, from the IP header's length): XDPF_DROP_PORT for a denied TCP/UDP destination
 * port (looked up only when `ports`: the deny map has entries), XDPF_MALFORMED for a
 * truncated header, otherwise XDPF_PASS. Inlined: every packet that passes comes here, and a
 * call to a global function costs as much as a hash lookup.
 */
static __always_inline enum xdpf_reason check_l4(struct xdp_md *ctx, __u32 proto, __u32 l4off, __u32 ip_end, __u32 ports)
{
	struct xdpf_port_key key = {};
	struct xdpf_hits *hits;
	__u32 need;
	__be16 dport;

	/* the extension headers (or IPv4 options) already reach past the IP packet */
	if (l4off > ip_end)
		return XDPF_MALFORMED;

	switch (proto) {
	case IPPROTO_TCP:
		need = sizeof(struct tcphdr);
		break;
	case IPPROTO_UDP:
		need = sizeof(struct udphdr);
		break;
	case IPPROTO_ICMP:
		need = 8;	/* type, code, checksum and the 4-byte rest of header */
		break;
	case IPPROTO_ICMPV6:
		need = 4;	/* type, code, checksum (RFC 4443 2.1) */
		break;
	default:
		return XDPF_PASS;
	}
	if (l4off + need > ip_end)
		return XDPF_MALFORMED;

	if (proto == IPPROTO_TCP) {
		struct tcphdr *tcp = header(ctx, l4off, sizeof(*tcp));

		if (!tcp || tcp->doff < 5)
			return XDPF_MALFORMED;
		dport = tcp->dest;
	} else if (proto == IPPROTO_UDP) {
		struct udphdr *udp = header(ctx, l4off, sizeof(*udp));

		if (!udp)
			return XDPF_MALFORMED;
		dport = udp->dest;
	} else {
		return header(ctx, l4off, need) ? XDPF_PASS : XDPF_MALFORMED;
	}
	if (!ports)
		return XDPF_PASS;

	key.port = bpf_ntohs(dport);
	key.proto = proto;
	hits = bpf_map_lookup_elem(&xdpf_port_deny, &key);
	if (hits) {
		__sync_fetch_and_add(&hits->packets, 1);
		return XDPF_DROP_PORT;
	}
	return XDPF_PASS;
}

/* Counts a drop on the blocklist entry `key`; 0 when there is no such entry. */
static __always_inline int hit(void *map, const void *key)
{
	struct xdpf_hits *hits = bpf_map_lookup_elem(map, key);

	if (!hits)
		return 0;
	__sync_fetch_and_add(&hits->packets, 1);
	return 1;
}

/* The lengths still to look up for one source, longest first (bpf_loop's context). */
struct probe {
	__u32 addr[4];	/* the source as in the packet; IPv4 in addr[0] */
	__u32 family;	/* 4 or 6 */
	__u32 dropped;
	__u64 w_hi;	/* bit i: length 128 - i */
	__u64 w_lo;	/* bit i: length 64 - i (i < 64) */
};

static __always_inline __u32 popcount64(__u64 v)
{
	v = v - ((v >> 1) & 0x5555555555555555ULL);
	v = (v & 0x3333333333333333ULL) + ((v >> 2) & 0x3333333333333333ULL);
	v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (v * 0x0101010101010101ULL) >> 56;
}

/* The first `bits` bits of a big-endian 32-bit word; bits may be out of 0..32 either way. */
static __always_inline __u32 mask_be32(__u32 be, int bits)
{
	if (bits <= 0)
		return 0;
	if (bits >= 32)
		return be;
	return be & bpf_htonl(~0U << (32 - bits));
}

/* The source's /len is blocked: count it. */
static __always_inline int probe_len(const struct probe *p, __u32 len)
{
	if (p->family == 4) {
		struct xdpf_prefix_v4 key = { .prefixlen = len };
		__u32 w = mask_be32(p->addr[0], len);

		__builtin_memcpy(key.addr, &w, 4);
		return hit(&xdpf_block_v4, &key);
	} else {
		struct xdpf_prefix_v6 key = { .prefixlen = len };
		__u32 w[4];
		int i;

#pragma unroll
		for (i = 0; i < 4; i++)
			w[i] = mask_be32(p->addr[i], (int)len - 32 * i);
		__builtin_memcpy(key.addr, w, 16);
		return hit(&xdpf_block_v6, &key);
	}
}

/* Takes the longest length left (the lowest set bit) off; call only while one is left. */
static __always_inline __u32 next_length(struct probe *p)
{
	__u64 bit;

	if (p->w_hi) {
		bit = p->w_hi & -p->w_hi;
		p->w_hi ^= bit;
		return 128 - popcount64(bit - 1);
	}
	bit = p->w_lo & -p->w_lo;
	p->w_lo ^= bit;
	return 64 - popcount64(bit - 1);
}

/*
 * bpf_loop's callback: looks up the next length; 1 (stop) on a hit or when none is left. A
 * real function: the verifier checks it once however many lengths there are.
 */
static __noinline long probe_next(__u32 i, struct probe *p)
{
	if (!(p->w_hi | p->w_lo))
		return 1;
	if (probe_len(p, next_length(p))) {
		p->dropped = 1;
		return 1;
	}
	return 0;
}

/*
 * 1 when a blocked prefix covers the source (counted on the longest). `slot` is the index
 * word of the source's /16; p->w_hi and p->w_lo hold the lengths above 32 (IPv6).
 */
static __always_inline int blocked(struct probe *p, __u32 slot)
{
	__u32 cover;

	/* lengths 17..32: bit 32 - n of the slot is bit 64 - n of w_lo */
	p->w_lo |= (__u64)(slot & XDPF_IX_LONGER) << 32;
	p->dropped = 0;
	/* Mostly one length: looked up here; the loop only when there are more. */
	if ((p->w_hi | p->w_lo) && probe_len(p, next_length(p)))
		return 1;
	if (p->w_hi | p->w_lo) {
		bpf_loop(128, probe_next, p, 0);
		if (p->dropped)
			return 1;
	}
	cover = (slot & XDPF_IX_COVER) >> XDPF_IX_COVER_SHIFT;
	return cover && probe_len(p, cover - 1);
}

/*
 * A paged word (XDPF_IX_PAGED): adds the lengths 17..32 that the page says can hold a source
 * whose first 32 bits are `top` to p->w_lo, and returns the word without the page number (which
 * is not lengths): the cover up to /16, and XDPF_IX_LONG.
 */
static __always_inline __u32 read_page(struct probe *p, void *pages, __u32 slot, __u32 top)
{
	const struct xdpf_page *page;
	__u32 pg = slot & XDPF_IX_LONGER, cover24;
	__u16 e;

	page = bpf_map_lookup_elem(pages, &pg);
	if (page) {
		e = page->slot[(top >> 8) & (XDPF_PAGE_SLOTS - 1)];
		/* lengths 25..32: bit 32 - n of the slot is bit 64 - n of w_lo */
		p->w_lo |= (__u64)(e & XDPF_PG_INSIDE) << 32;
		cover24 = (e & XDPF_PG_COVER) >> XDPF_PG_COVER_SHIFT;
		if (cover24)
			p->w_lo |= 1ULL << (48 - cover24);	/* length 16 + cover24 */
	}
	return slot & (XDPF_IX_COVER | XDPF_IX_LONG);
}

/*
 * The prefixes a /32's entry holds in its slots, longest first: 1, counted on the first that
 * covers the source (bytes 4..15 of the source masked to its length, word by word).
 */
static __always_inline int inline_hit(const struct probe *p, struct xdpf_long_v6 *lg)
{
	struct xdpf_long_slot *s;
	__u32 w[3], len;
	int i, j;

#pragma unroll
	for (i = 0; i < XDPF_LONG_INLINE; i++) {
		s = &lg->slot[i];
		len = s->prefixlen;
		if (!len)
			return 0;
		__builtin_memcpy(w, s->addr, 12);
#pragma unroll
		for (j = 0; j < 3; j++)
			if (mask_be32(p->addr[j + 1], (int)len - 32 * (j + 1)) != w[j])
				break;
		if (j == 3) {
			__sync_fetch_and_add(&s->packets, 1);
			return 1;
		}
	}
	return 0;
}

/* murmur3's finalizer: every bit of the input moves about half of the output's. */
static __always_inline __u32 fmix32(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

/* 0 when the seen filter is kept and says no prefix of /32 or longer lies in the /32 `top`. */
static __always_inline int seen_v6(const struct xdpf_config *cfg, __u32 top)
{
	const struct xdpf_seen_word *w;
	__u32 h, i;
	__u64 need;

	if (!(cfg->flags & XDPF_F_SEEN))
		return 1;
	h = fmix32(top ^ cfg->seen_seed);
	i = h & cfg->seen_mask;
	w = bpf_map_lookup_elem(&xdpf_seen_v6, &i);
	if (!w)
		return 1;
	h = fmix32(h ^ XDPF_SEEN_SALT);
	need = (1ULL << (h & 63)) | (1ULL << ((h >> 6) & 63)) | (1ULL << ((h >> 12) & 63));
	return (w->bits & need) == need;
}

static __always_inline int blocked_v4(__be32 saddr)
{
	__u32 a = bpf_ntohl(saddr);
	__u32 s16 = a >> 16;
	struct xdpf_index_slot *ix = bpf_map_lookup_elem(&xdpf_index_v4, &s16);
	struct probe p = {};
	__u32 slot;

	if (!ix || !ix->bits)
		return 0;
	slot = ix->bits;
	p.family = 4;
	p.addr[0] = saddr;
	if (slot & XDPF_IX_PAGED)
		slot = read_page(&p, &xdpf_pages_v4, slot, a);
	return blocked(&p, slot);
}

static __always_inline int blocked_v6(const struct in6_addr *saddr, const struct xdpf_config *cfg)
{
	__u32 top = bpf_ntohl(saddr->in6_u.u6_addr32[0]);
	__u32 s16 = top >> 16;
	struct xdpf_index_slot *ix = bpf_map_lookup_elem(&xdpf_index_v6, &s16);
	struct xdpf_long_v6 *lg;
	struct probe p = {};
	__u32 slot, seen = 1;

	if (!ix || !ix->bits)
		return 0;
	slot = ix->bits;
	/* Length 32 (bit 0 of an unpaged word, or from a page) or the long flag: ask the seen filter first. */
	if (slot & (XDPF_IX_LONG | XDPF_IX_PAGED | 1))
		seen = seen_v6(cfg, top);
	p.family = 6;
	p.addr[0] = saddr->in6_u.u6_addr32[0];
	p.addr[1] = saddr->in6_u.u6_addr32[1];
	p.addr[2] = saddr->in6_u.u6_addr32[2];
	p.addr[3] = saddr->in6_u.u6_addr32[3];
	if ((slot & XDPF_IX_LONG) && seen) {
		lg = bpf_map_lookup_elem(&xdpf_long_v6, &top);
		if (lg && lg->slot[0].prefixlen) {
			if (inline_hit(&p, lg))
				return 1;
		} else if (lg) {
			p.w_hi = lg->longer_hi[0] | (__u64)lg->longer_hi[1] << 32;
			p.w_lo = lg->longer_lo;
		}
	}
	if (slot & XDPF_IX_PAGED)
		slot = read_page(&p, &xdpf_pages_v6, slot, top);
	if (!seen) {
		slot &= ~1U;
		p.w_lo &= ~(1ULL << 32);
	}
	return blocked(&p, slot);
}

static __always_inline enum xdpf_reason filter_ipv4(struct xdp_md *ctx, __u32 off, const struct xdpf_config *cfg)
{
	enum xdpf_reason reason;
	struct iphdr *ip;
	__u32 hlen, tot;

	ip = header(ctx, off, sizeof(*ip));
	if (!ip || ip->version != 4 || ip->ihl < 5)
		return XDPF_MALFORMED;
	hlen = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	if (tot < hlen || !header(ctx, off, hlen))
		return XDPF_MALFORMED;

	if (blocked_v4(ip->saddr))
		return XDPF_DROP_BLOCK_V4;

	if (bpf_ntohs(ip->frag_off) & IPV4_FRAG_OFFSET)
		reason = XDPF_PASS_FRAGMENT;
	else
		reason = check_l4(ctx, ip->protocol, off + hlen, off + tot, cfg->flags & XDPF_F_PORTS);
	if (reason == XDPF_DROP_PORT || !cfg->rate_pps)
		return reason;
	if (xdpf_over_rate(ctx, 4, off + __builtin_offsetof(struct iphdr, saddr)) == XDPF_DROP_RATE)
		return XDPF_DROP_RATE;
	return reason;
}

static __always_inline int ipv6_is_ext(__u8 nexthdr)
{
	switch (nexthdr) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_FRAGMENT:
	case IPPROTO_DSTOPTS:
	case IPPROTO_AH:
	case NEXTHDR_MOBILITY:
	case NEXTHDR_HIP:
	case NEXTHDR_SHIM6:
		return 1;
	}
	return 0;
}

/*
 * Walks the extension headers after the fixed header: *off and *nexthdr end at the
 * transport header. Returns XDPF_PASS when it got there, or the reason to stop.
 */
static __always_inline enum xdpf_reason ipv6_walk(struct xdp_md *ctx, __u32 *off, __u8 *nexthdr,
						  __u32 ip_end)
{
	__u32 ah;
	int i;

	/* Unrolled: the 6.1 verifier (Debian's, the lab's) refuses this bounded loop as a back edge. */
#pragma unroll
	for (i = 0; i < XDPF_IPV6_EXT_MAX; i++) {
		struct ipv6_frag_hdr *frag;
		struct ipv6_opt_hdr *opt;
		__u8 nh = *nexthdr;

		if (!ipv6_is_ext(nh))
			return XDPF_PASS;
		/* every extension header is at least 8 bytes */
		if (*off + 8 > ip_end)
			return XDPF_MALFORMED;
		if (nh == IPPROTO_FRAGMENT) {
			frag = header(ctx, *off, sizeof(*frag));
			if (!frag)
				return XDPF_MALFORMED;
			if (bpf_ntohs(frag->frag_off) & IPV6_FRAG_OFFSET)
				return XDPF_PASS_FRAGMENT;
			*nexthdr = frag->nexthdr;
			*off += sizeof(*frag);
			continue;
		}
		opt = header(ctx, *off, 8);
		if (!opt)
			return XDPF_MALFORMED;
		*nexthdr = opt->nexthdr;
		/* AH counts 4-byte units minus 2 (RFC 4302), the others 8-byte units minus 1.
		 * Computed without a branch: a branch here would double the paths the verifier
		 * walks at every step of the loop.
		 */
		ah = nh ^ IPPROTO_AH;
		ah -= 1;
		barrier_var(ah);	/* keep clang from turning this back into a compare */
		ah = ah >> 31;		/* 1 for AH (0 - 1 wraps), else 0 */
		*off += (opt->hdrlen + 1 + ah) << (3 - ah);
	}
	return ipv6_is_ext(*nexthdr) ? XDPF_PASS_EXT_LIMIT : XDPF_PASS;
}

static __always_inline enum xdpf_reason filter_ipv6(struct xdp_md *ctx, __u32 off, const struct xdpf_config *cfg)
{
	enum xdpf_reason reason;
	struct ipv6hdr *ip6;
	__u32 l3off = off, ip_end, plen;
	__u8 nexthdr;

	ip6 = header(ctx, off, sizeof(*ip6));
	if (!ip6 || ip6->version != 6)
		return XDPF_MALFORMED;

	if (blocked_v6(&ip6->saddr, cfg))
		return XDPF_DROP_BLOCK_V6;

	/* payload length 0 is a jumbogram or an empty packet: bounded by the frame alone */
	plen = bpf_ntohs(ip6->payload_len);
	ip_end = plen ? off + sizeof(*ip6) + plen : ctx->data_end - ctx->data;
	nexthdr = ip6->nexthdr;
	off += sizeof(*ip6);

	reason = ipv6_walk(ctx, &off, &nexthdr, ip_end);
	if (reason == XDPF_PASS)
		reason = check_l4(ctx, nexthdr, off, ip_end, cfg->flags & XDPF_F_PORTS);
	if (reason == XDPF_DROP_PORT || !cfg->rate_pps)
		return reason;
	if (xdpf_over_rate(ctx, 6, l3off + __builtin_offsetof(struct ipv6hdr, saddr)) == XDPF_DROP_RATE)
		return XDPF_DROP_RATE;
	return reason;
}

SEC("xdp")
int xdp_filter(struct xdp_md *ctx)
{
	struct ethhdr *eth = header(ctx, 0, sizeof(*eth));
	const struct xdpf_config *cfg;
	__u32 off = sizeof(*eth), zero = 0;
	__be16 proto;
	int i;

	if (!eth)
		return verdict(ctx, XDPF_MALFORMED);
	proto = eth->h_proto;

#pragma unroll
	for (i = 0; i < XDPF_VLAN_MAX; i++) {
		struct vlan_hdr *vlan;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		vlan = header(ctx, off, sizeof(*vlan));
		if (!vlan)
			return verdict(ctx, XDPF_MALFORMED);
		proto = vlan->h_vlan_encapsulated_proto;
		off += sizeof(*vlan);
	}

	/* An array's element 0 always exists; the verifier wants the check all the same. */
	cfg = bpf_map_lookup_elem(&xdpf_config, &zero);
	if (!cfg)
		return verdict(ctx, XDPF_PASS);
	if (proto == bpf_htons(ETH_P_IP))
		return verdict(ctx, filter_ipv4(ctx, off, cfg));
	if (proto == bpf_htons(ETH_P_IPV6))
		return verdict(ctx, filter_ipv6(ctx, off, cfg));
	return verdict(ctx, XDPF_PASS_NOT_IP);
}

char LICENSE[] SEC("license") = "GPL";
