// A change of a few prefixes (at most 64 per family: XdpFilterMaps.changeBlocklist's incremental
// index path, addToIndex in src/bpf/xdp-filter.ts) must leave an index that leads to every listed
// prefix whatever order the prefixes come in -- else observe reports `unindexed` after a writer
// that was never killed (the crash test's premise is that only a kill leaves gaps).
//
// KNOWN BUG, found while writing xdp-crash.test.ts: a prefix of /16 or shorter that comes after
// a longer prefix lying in a /16 it covers writes that /16's word from the index as read before
// the change, so the longer prefix's bit (lengths 17–32; IPv6's XDPF_IX_LONG flag for longer
// ones) set earlier in the same change is lost. Verdicts stay right (the short prefix covers the
// whole /16), but indexProblems() finds a gap after an uninterrupted write: `fos1 apply` of a
// blocklist [10.1.2.0/24, 10.0.0.0/12] exits 1, unconverged on "XDP index (…)", `fos1 xdp status`
// shows the filter unindexed, the next apply reindexes, and packets from the /24 are counted on
// the /12 rather than on the longest match. The tests of that order are test.failing until
// addToIndex is fixed; bun then reports them, and they become plain tests.
// Root; run after make build (dist/bpf).
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { join, resolve } from "node:path";
import { testRun, XdpAction } from "../../src/bpf/test-run";
import { XdpFilter } from "../../src/bpf/xdp-filter";
import { removePinRoot, testPinRoot } from "../helpers/bpffs";
import { ethernet, ipv4, ipv6, tcp } from "../helpers/packets";

const OBJECT = join(resolve(import.meta.dir, "../.."), "dist/bpf/xdp_filter.o");

let pinRoot: string;
let filter: XdpFilter;

beforeAll(() => {
  pinRoot = testPinRoot("index-order");
  filter = XdpFilter.load({ object: OBJECT, pinRoot });
});

afterAll(() => {
  filter?.close();
  if (pinRoot) removePinRoot(pinRoot);
});

beforeEach(() => {
  const m = filter.maps;
  m.changeBlocklist([], m.blocked().map((b) => b.prefix));
  m.reindex(); // no bit left from the test before
});

/** The packets each listed prefix has dropped, after one packet from `src`; and its action. */
function send(src: string): { action: number; counted: Record<string, number> } {
  const frame = src.includes(":") ? ethernet(ipv6(src, "2001:db8::2", tcp(40000, 80))) : ethernet(ipv4(src, "192.0.2.2", tcp(40000, 80)));
  const action = testRun(filter.program, frame.bytes).retval;
  return { action, counted: Object.fromEntries(filter.maps.blocked().map((b) => [b.prefix, Number(b.packets)])) };
}

describe("a few prefixes blocked at once leave a whole index, in any order", () => {
  test("IPv4: the /12 before the /24 inside it", () => {
    filter.maps.changeBlocklist(["10.0.0.0/12", "10.1.2.0/24"], []);
    expect(filter.maps.indexProblems()).toEqual([]);
    expect(send("10.1.2.5")).toEqual({ action: XdpAction.DROP, counted: { "10.0.0.0/12": 0, "10.1.2.0/24": 1 } });
  });

  test.failing("IPv4: the /24 before the /12 that covers it (addToIndex drops the /24's bit)", () => {
    filter.maps.changeBlocklist(["10.1.2.0/24", "10.0.0.0/12"], []);
    expect(send("10.1.2.5")).toEqual({ action: XdpAction.DROP, counted: { "10.0.0.0/12": 0, "10.1.2.0/24": 1 } });
    expect(filter.maps.indexProblems()).toEqual([]);
  });

  test("IPv6: the /16 before the /48 inside it", () => {
    filter.maps.changeBlocklist(["2001::/16", "2001:db8:1::/48"], []);
    expect(filter.maps.indexProblems()).toEqual([]);
    expect(send("2001:db8:1::5")).toEqual({ action: XdpAction.DROP, counted: { "2001::/16": 0, "2001:db8:1::/48": 1 } });
  });

  test.failing("IPv6: the /48 before the /16 that covers it (addToIndex drops the /16 word's XDPF_IX_LONG)", () => {
    filter.maps.changeBlocklist(["2001:db8:1::/48", "2001::/16"], []);
    expect(send("2001:db8:1::5")).toEqual({ action: XdpAction.DROP, counted: { "2001::/16": 0, "2001:db8:1::/48": 1 } });
    expect(filter.maps.indexProblems()).toEqual([]);
  });
});
