// The TypeScript side of the XDP filter mirrors C exactly:
//   - src/bpf/layout.ts against bpf/xdp_filter.h as compiled: struct sizes and offsets, the
//     reason enum (from the BTF of dist/bpf/xdp_filter.o, read through libbpf), the maps the
//     object declares, and the header's #defines;
//   - src/bpf/cstructs.ts (libbpf's opts blocks, the kernel's info structs) against
//     /usr/include, by compiling a C program that prints offsetof/sizeof;
//   - the comparison itself, on an object whose layout is wrong on purpose;
//   - the byte codecs.
// No root needed (BTF is read from the file). Run after `make build`.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Btf } from "../../src/bpf/btf";
import * as C from "../../src/bpf/cstructs";
import {
  decodeConfig,
  decodeCounter,
  decodePortKey,
  decodePrefixKey,
  EMPTY_CONFIG,
  encodeConfig,
  encodePortKey,
  encodePrefixKey,
  keySize,
  layoutMismatches,
  maps,
  Reason,
  structs,
  valueSize,
  XDPF_CAPACITY_DEFAULT,
  XDPF_CAPACITY_MAX,
  XDPF_F_PORTS,
  XDPF_INDEX_SLOTS,
  XDPF_IPV6_EXT_MAX,
  XDPF_IX_COVER,
  XDPF_IX_COVER_SHIFT,
  XDPF_IX_LONG,
  XDPF_IX_LONGER,
  XDPF_IX_PAGED,
  XDPF_NANO,
  XDPF_PAGE_SLOTS,
  XDPF_PG_COVER,
  XDPF_PG_COVER_SHIFT,
  XDPF_PG_INSIDE,
  pagesFor,
  seenFor,
  XDPF_F_SEEN,
  XDPF_LONG_INLINE,
  XDPF_SEEN_SALT,
  XDPF_RATE_DEFAULT,
  XDPF_VLAN_MAX,
} from "../../src/bpf/layout";
import { XDP_CAPACITY_DEFAULT, XDP_CAPACITY_MAX, XDP_RATE_SOURCES_DEFAULT } from "../../src/api/schema/security";
import { BpfObject } from "../../src/bpf/object";
import { memoryIsEstimate } from "../../src/bpf/maps";
import { parsePrefix } from "../../src/api/ip";

const repo = resolve(import.meta.dir, "../..");
const OBJECT = join(repo, "dist/bpf/xdp_filter.o");
const HEADER = join(repo, "bpf/xdp_filter.h");
const tmp = mkdtempSync(join(tmpdir(), "fos1-xdp-layout-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function compile(args: string[]) {
  const r = Bun.spawnSync(["clang", ...args], { stderr: "pipe", stdout: "pipe" });
  if (r.exitCode !== 0) throw new Error(`clang ${args.join(" ")}:\n${r.stderr.toString()}`);
}

describe("layout.ts mirrors bpf/xdp_filter.h", () => {
  test("the built object exists (make build)", () => {
    expect(existsSync(OBJECT)).toBe(true);
  });

  test("every struct's size and member offsets equal the object's BTF", () => {
    const btf = Btf.fromFile(OBJECT);
    try {
      for (const [name, want] of Object.entries(structs)) {
        const got = btf.struct(name);
        expect(got).not.toBeNull();
        const fields = Object.fromEntries(got!.members.map((m) => [m.name, { offset: m.offset, size: m.size }]));
        expect({ name, size: got!.size, fields }).toEqual({ name, size: want.size, fields: want.fields });
      }
      expect(layoutMismatches(btf)).toEqual([]);
    } finally {
      btf.close();
    }
  });

  test("enum xdpf_reason in the BTF has exactly the mirror's names and numbers", () => {
    const btf = Btf.fromFile(OBJECT);
    try {
      expect(btf.enum("xdpf_reason")).toEqual({ ...Reason });
    } finally {
      btf.close();
    }
  });

  test("the object declares exactly the mirror's maps (type, key and value size, entries)", () => {
    const obj = BpfObject.open(OBJECT);
    try {
      const declared = Object.fromEntries(obj.declaredMaps().map((m) => [m.name, { type: m.type, key: m.keySize, value: m.valueSize, entries: m.maxEntries }]));
      const mirror = Object.fromEntries(
        Object.entries(maps).map(([n, m]) => [n, { type: m.type, key: keySize(m), value: valueSize(m), entries: m.maxEntries }]),
      );
      expect(declared).toEqual(mirror);
      expect(obj.programs().map((p) => p.name)).toEqual(["xdp_filter"]);
    } finally {
      obj.close();
    }
  });

  test("the header's #defines equal the mirror's constants", () => {
    const text = readFileSync(HEADER, "utf8");
    const define = (name: string) => {
      const m = new RegExp(`^#define ${name} (0x[0-9a-f]+|\\d+)(ULL)?\\b`, "m").exec(text);
      if (!m) throw new Error(`${name} not defined in ${HEADER}`);
      return Number(m[1]);
    };
    expect(define("XDPF_VLAN_MAX")).toBe(XDPF_VLAN_MAX);
    expect(define("XDPF_IPV6_EXT_MAX")).toBe(XDPF_IPV6_EXT_MAX);
    expect(BigInt(define("XDPF_NANO"))).toBe(XDPF_NANO);
    expect(define("XDPF_CAPACITY_DEFAULT")).toBe(XDPF_CAPACITY_DEFAULT);
    expect(define("XDPF_CAPACITY_DEFAULT")).toBe(maps.xdpf_block_v4.maxEntries);
    expect(define("XDPF_CAPACITY_MAX")).toBe(XDPF_CAPACITY_MAX);
    // The config's schema states the same numbers to the operator.
    expect([XDP_CAPACITY_DEFAULT, XDP_CAPACITY_MAX, XDP_RATE_SOURCES_DEFAULT]).toEqual([XDPF_CAPACITY_DEFAULT, XDPF_CAPACITY_MAX, XDPF_RATE_DEFAULT]);
    expect(define("XDPF_INDEX_SLOTS")).toBe(XDPF_INDEX_SLOTS);
    expect(define("XDPF_INDEX_SLOTS")).toBe(maps.xdpf_index_v4.maxEntries);
    expect(XDPF_INDEX_SLOTS).toBe(2 ** 16); // a word per /16
    expect(define("XDPF_IX_LONGER")).toBe(XDPF_IX_LONGER);
    expect(define("XDPF_IX_COVER_SHIFT")).toBe(XDPF_IX_COVER_SHIFT);
    expect(define("XDPF_IX_COVER")).toBe(XDPF_IX_COVER);
    expect(define("XDPF_IX_LONG")).toBe(XDPF_IX_LONG);
    expect(define("XDPF_IX_PAGED")).toBe(XDPF_IX_PAGED);
    expect(define("XDPF_PAGE_SLOTS")).toBe(XDPF_PAGE_SLOTS);
    expect(define("XDPF_PAGES_DEFAULT")).toBe(maps.xdpf_pages_v4.maxEntries);
    expect(define("XDPF_PAGES_DEFAULT")).toBe(pagesFor(4, XDPF_CAPACITY_DEFAULT));
    expect(define("XDPF_PAGES_V6_DEFAULT")).toBe(maps.xdpf_pages_v6.maxEntries);
    expect(define("XDPF_PAGES_V6_DEFAULT")).toBe(pagesFor(6, XDPF_CAPACITY_DEFAULT));
    expect(define("XDPF_PG_INSIDE")).toBe(XDPF_PG_INSIDE);
    expect(define("XDPF_PG_COVER_SHIFT")).toBe(XDPF_PG_COVER_SHIFT);
    expect(define("XDPF_PG_COVER")).toBe(XDPF_PG_COVER);
    expect(define("XDPF_F_PORTS")).toBe(XDPF_F_PORTS);
    expect(define("XDPF_F_SEEN")).toBe(XDPF_F_SEEN);
    expect(define("XDPF_LONG_INLINE")).toBe(XDPF_LONG_INLINE);
    expect(define("XDPF_SEEN_SALT")).toBe(XDPF_SEEN_SALT);
    expect(define("XDPF_SEEN_V6_DEFAULT")).toBe(maps.xdpf_seen_v6.maxEntries);
    expect(define("XDPF_SEEN_V6_DEFAULT")).toBe(seenFor(XDPF_CAPACITY_DEFAULT));
    expect(define("XDPF_PORT_DENY_MAX")).toBe(maps.xdpf_port_deny.maxEntries);
    expect(define("XDPF_RATE_DEFAULT")).toBe(maps.xdpf_rate.maxEntries);
  });

  test("a layout that differs is reported field by field", () => {
    const src = join(tmp, "wrong.c");
    writeFileSync(
      src,
      `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct xdpf_config { __u32 rate_v4_prefix; __u64 rate_pps; __u64 burst; __u32 rate_v6_prefix; __u64 extra; __u64 more; };
enum xdpf_reason { XDPF_PASS = 0, XDPF_DROP_PORT = 1 };
struct holder { enum xdpf_reason r; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct xdpf_config); } cfg SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct holder); } hold SEC(".maps");
SEC("xdp") int prog(struct xdp_md *ctx) { return XDP_PASS; }
char LICENSE[] SEC("license") = "GPL";
`,
    );
    const obj = join(tmp, "wrong.o");
    compile(["-O2", "-g", "-target", "bpf", `-I/usr/include/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`, "-c", src, "-o", obj]);
    const btf = Btf.fromFile(obj);
    try {
      const wrong = layoutMismatches(btf);
      expect(wrong).toContain("struct xdpf_prefix_v4: missing from the object's BTF");
      expect(wrong).toContain("struct xdpf_config: size 48, mirror says 40");
      expect(wrong).toContain("struct xdpf_config: members rate_v4_prefix, rate_pps, burst, rate_v6_prefix, extra, more, mirror says flags, rate_v4_prefix, rate_v6_prefix, seen_seed, rate_pps, burst, seen_mask, pad");
      expect(wrong).toContain("struct xdpf_config.rate_pps: offset 8 size 8, mirror says offset 16 size 8");
      expect(wrong).toContain("enum xdpf_reason XDPF_DROP_PORT: 1 in the object, mirror says 7");
      expect(wrong).toContain("enum xdpf_reason XDPF_MALFORMED: absent in the object, mirror says 4");
    } finally {
      btf.close();
    }
  });
});

describe("cstructs.ts mirrors libbpf's and the kernel's structs", () => {
  test("every field offset, and every opts block's size, equal what the C compiler says", () => {
    const defs = [C.bpfObjectOpenOpts, C.bpfTestRunOpts, C.bpfMapBatchOpts, C.bpfXdpAttachOpts, C.bpfXdpQueryOpts, C.bpfMapInfo, C.bpfProgInfo];
    const lines: string[] = [];
    for (const d of defs) {
      lines.push(`printf("%s sizeof %zu\\n", "${d.name}", sizeof(struct ${d.name}));`);
      for (const field of Object.keys(d.fields))
        lines.push(`printf("%s %s %zu\\n", "${d.name}", "${field}", offsetof(struct ${d.name}, ${field}));`);
    }
    const src = join(tmp, "offsets.c");
    writeFileSync(src, `#include <stddef.h>\n#include <stdio.h>\n#include <bpf/libbpf.h>\n#include <bpf/bpf.h>\nint main(void) {\n${lines.join("\n")}\nreturn 0;\n}\n`);
    const bin = join(tmp, "offsets");
    compile(["-o", bin, src]);
    const out = Bun.spawnSync([bin]).stdout.toString();
    const c: Record<string, number> = {};
    for (const line of out.trim().split("\n")) {
      const [s, f, n] = line.split(" ");
      c[`${s}.${f}`] = Number(n);
    }
    for (const d of defs) {
      for (const [field, { offset }] of Object.entries(d.fields)) expect({ field: `${d.name}.${field}`, offset }).toEqual({ field: `${d.name}.${field}`, offset: c[`${d.name}.${field}`]! });
      if (d.whole) expect({ name: d.name, size: d.size }).toEqual({ name: d.name, size: c[`${d.name}.sizeof`]! });
      else expect(d.size).toBeLessThanOrEqual(c[`${d.name}.sizeof`]!);
    }
  });
});

describe("codecs", () => {
  test("prefix keys: prefix length then the address in network byte order", () => {
    const k4 = encodePrefixKey(parsePrefix("198.51.100.0/24")!);
    expect([...k4]).toEqual([24, 0, 0, 0, 198, 51, 100, 0]);
    expect(decodePrefixKey(4, k4)).toEqual(parsePrefix("198.51.100.0/24")!);
    const k6 = encodePrefixKey(parsePrefix("2001:db8::/32")!);
    expect(k6).toHaveLength(20);
    expect([...k6.subarray(0, 8)]).toEqual([32, 0, 0, 0, 0x20, 0x01, 0x0d, 0xb8]);
    expect(decodePrefixKey(6, k6)).toEqual(parsePrefix("2001:db8::/32")!);
    const k0 = encodePrefixKey(parsePrefix("::/0")!);
    expect([...k0]).toEqual(new Array(20).fill(0));
    expect(decodePrefixKey(6, encodePrefixKey(parsePrefix("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128")!)).addr).toBe(2n ** 128n - 1n);
  });

  test("port keys: port in host order, protocol number, zero pad", () => {
    const k = encodePortKey("udp", 0x1234);
    expect([...k]).toEqual([0x34, 0x12, 17, 0]);
    expect(decodePortKey(k)).toEqual({ proto: "udp", port: 0x1234 });
  });

  test("config: flags, then prefix lengths, the seen filter's seed, rate and burst, its mask; all zero is off", () => {
    const c = { flags: XDPF_F_PORTS, rate: { pps: 1000, burst: 50, v4Prefix: 32, v6Prefix: 64 }, seen: { seed: 0xdeadbeef, mask: 16383 } };
    const v = encodeConfig(c);
    expect(decodeConfig(v)).toEqual(c);
    const d = new DataView(v.buffer);
    expect([d.getUint32(0, true), d.getUint32(4, true), d.getUint32(8, true), d.getUint32(12, true)]).toEqual([1, 32, 64, 0xdeadbeef]);
    expect([d.getBigUint64(16, true), d.getBigUint64(24, true)]).toEqual([1000n, 50n]);
    expect([d.getUint32(32, true), d.getUint32(36, true)]).toEqual([16383, 0]);
    expect([...encodeConfig(EMPTY_CONFIG)]).toEqual(new Array(40).fill(0));
    expect(decodeConfig(encodeConfig(EMPTY_CONFIG))).toEqual(EMPTY_CONFIG);
    expect(() => encodeConfig({ ...EMPTY_CONFIG, rate: { pps: 0, burst: 1, v4Prefix: 32, v6Prefix: 64 } })).toThrow(/rate limit pps 0/);
  });

  test("counters: two little-endian u64s", () => {
    const v = new Uint8Array(16);
    new DataView(v.buffer).setBigUint64(0, 2n ** 60n, true);
    new DataView(v.buffer).setBigUint64(8, 7n, true);
    expect(decodeCounter(v)).toEqual({ packets: 2n ** 60n, bytes: 7n });
  });
});

describe("map memory as the kernel reports it", () => {
  test("kernels before 6.4 estimate it from the maps' sizes, and fos1 says so; later ones count what is allocated", () => {
    expect(["5.15.0-91-generic", "6.1.0-57-amd64", "6.3.13"].map((k) => memoryIsEstimate(k))).toEqual([true, true, true]);
    expect(["6.4.0", "6.12.8-talos", "6.18.44-fc-v1300", "7.0.1"].map((k) => memoryIsEstimate(k))).toEqual([false, false, false, false]);
  });
});
