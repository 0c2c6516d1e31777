// The dhcpcd configuration fos1 writes for its uplinks, and how it reads dhcpcd's leases back.
// The lab test (test/lab/dhcp.test.ts) runs these configs against real DHCP servers.
import { describe, expect, test } from "bun:test";
import { InvalidInputError } from "../../src/base/errors";
import { buildStatus, iaidOf, inPrefix6, parseLease4, parseLease6, renderDhcpcdConfig, type DhcpClientSpec } from "../../src/engine/dhcp";

/** The lines of one `interface NAME` block, up to the next blank line or block. */
function block(config: string, ifname: string): string[] {
  const lines = config.split("\n");
  const start = lines.indexOf(`interface ${ifname}`);
  if (start < 0) throw new Error(`no block for ${ifname} in:\n${config}`);
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((l) => l === "" || l.startsWith("interface ") || l.startsWith("#"));
  return end < 0 ? rest : rest.slice(0, end);
}

const globalLines = (config: string) => config.split("\n").slice(0, config.split("\n").findIndex((l) => l === ""));

describe("renderDhcpcdConfig", () => {
  test("v4 only: one uplink, IPv6 left alone, no hook script, nothing but the uplink allowed", () => {
    const config = renderDhcpcdConfig([{ ifname: "eth0", v4: true, v6: false }]);
    expect(globalLines(config)).toContain('script ""');
    expect(globalLines(config)).toContain("allowinterfaces eth0");
    expect(globalLines(config)).toContain("noipv4ll");
    // Without it dhcpcd 9.4.1 crashes where its udev plugin is not installed (the lab, Talos).
    expect(globalLines(config)).toContain("nodev");
    expect(block(config, "eth0")).toEqual(["iaid 1739691812", "noipv6"]);
  });

  test("v6 only: router solicitation and an IA_NA on the uplink, no IPv4", () => {
    const config = renderDhcpcdConfig([{ ifname: "eth0", v4: false, v6: true }]);
    const iaid = iaidOf("eth0");
    expect(block(config, "eth0")).toEqual([`iaid ${iaid}`, "noipv4", "ipv6rs", "nooption nd_prefix_information", `ia_na ${iaid}`]);
    // RS is off globally and on per uplink, as dhcpcd.conf(5) asks when delegating prefixes.
    expect(globalLines(config)).toContain("noipv6rs");
    expect(config).not.toContain("ia_pd");
  });

  test("prefix delegation with two LAN subnets: /64s by subnetId, targets get nothing else", () => {
    const spec: DhcpClientSpec = {
      ifname: "bond0",
      v4: true,
      v6: true,
      prefixDelegation: { hintLength: 56, assign: [{ ifname: "lan20", subnetId: 20 }, { ifname: "lan10", subnetId: 10 }] },
    };
    const config = renderDhcpcdConfig([spec]);
    const iaid = iaidOf("bond0");
    expect(block(config, "bond0")).toEqual([`iaid ${iaid}`, "ipv6rs", "nooption nd_prefix_information", `ia_na ${iaid}`, `ia_pd ${iaid}/::/56 lan10/10/64 lan20/20/64`]);
    // dhcpcd must run on the interfaces it delegates to — and must not run DHCP there.
    expect(globalLines(config)).toContain("allowinterfaces bond0 lan10 lan20");
    for (const lan of ["lan10", "lan20"]) expect(block(config, lan)).toEqual(["noipv4", "noipv6rs", "nodhcp6"]);
  });

  test("prefix delegation without a length hint asks for whatever the server gives", () => {
    const config = renderDhcpcdConfig([{ ifname: "eth0", v4: false, v6: true, prefixDelegation: { assign: [{ ifname: "eth1", subnetId: 0 }] } }]);
    expect(block(config, "eth0")).toContain(`ia_pd ${iaidOf("eth0")} eth1/0/64`);
  });

  test("several uplinks: one block each with its own IAID and metric, independent of spec order", () => {
    const specs: DhcpClientSpec[] = [
      { ifname: "wan1", v4: true, v6: false, routeMetric: 200 },
      { ifname: "wan0", v4: true, v6: true, routeMetric: 100, prefixDelegation: { hintLength: 60, assign: [{ ifname: "lan", subnetId: 1 }] } },
      { ifname: "lte0", v4: false, v6: true, iaid: 7 },
    ];
    const config = renderDhcpcdConfig(specs);
    expect(config).toBe(renderDhcpcdConfig([...specs].reverse()));
    expect(globalLines(config)).toContain("allowinterfaces lte0 wan0 wan1 lan");
    expect(block(config, "wan1")).toEqual([`iaid ${iaidOf("wan1")}`, "metric 200", "noipv6"]);
    expect(block(config, "wan0")).toEqual([
      `iaid ${iaidOf("wan0")}`,
      "metric 100",
      "ipv6rs",
      "nooption nd_prefix_information",
      `ia_na ${iaidOf("wan0")}`,
      `ia_pd ${iaidOf("wan0")}/::/60 lan/1/64`,
    ]);
    expect(block(config, "lte0")).toEqual(["iaid 7", "noipv4", "ipv6rs", "nooption nd_prefix_information", "ia_na 7"]);
    expect(new Set([iaidOf("wan0"), iaidOf("wan1"), 7]).size).toBe(3);
  });

  test("a LAN interface that takes /64s from two uplinks is listed once", () => {
    const pd = (subnetId: number) => ({ assign: [{ ifname: "br0", subnetId }] });
    const config = renderDhcpcdConfig([
      { ifname: "wan0", v4: false, v6: true, prefixDelegation: pd(1) },
      { ifname: "wan1", v4: false, v6: true, prefixDelegation: pd(2) },
    ]);
    expect(config.split("\n").filter((l) => l === "interface br0")).toHaveLength(1);
  });

  test("a hook script, when one is given, is named", () => {
    expect(renderDhcpcdConfig([{ ifname: "eth0", v4: true, v6: false }], { script: "/usr/local/lib/fos1/dhcp-hook" })).toContain(
      'script "/usr/local/lib/fos1/dhcp-hook"',
    );
  });

  test("the default IAID depends on the interface name only", () => {
    expect(iaidOf("eth0")).toBe(1739691812);
    expect(iaidOf("eth0")).not.toBe(iaidOf("eth1"));
  });

  const invalid: [string, DhcpClientSpec[], RegExp][] = [
    ["neither family", [{ ifname: "eth0", v4: false, v6: false }], /asks for neither DHCPv4 nor DHCPv6/],
    ["a name that would break the config", [{ ifname: "eth0 #x", v4: true, v6: false }], /not a usable interface name/],
    ["an uplink twice", [{ ifname: "eth0", v4: true, v6: false }, { ifname: "eth0", v4: false, v6: true }], /listed twice/],
    ["PD without v6", [{ ifname: "eth0", v4: true, v6: false, prefixDelegation: { assign: [{ ifname: "lan", subnetId: 1 }] } }], /set v6/],
    ["PD to nobody", [{ ifname: "eth0", v4: false, v6: true, prefixDelegation: { assign: [] } }], /names no LAN interface/],
    ["PD to itself", [{ ifname: "eth0", v4: false, v6: true, prefixDelegation: { assign: [{ ifname: "eth0", subnetId: 1 }] } }], /to itself/],
    [
      "a subnetId outside the hinted prefix",
      [{ ifname: "eth0", v4: false, v6: true, prefixDelegation: { hintLength: 60, assign: [{ ifname: "lan", subnetId: 16 }] } }],
      /a \/60 holds \/64s 0–15/,
    ],
    [
      "one subnetId twice",
      [{ ifname: "eth0", v4: false, v6: true, prefixDelegation: { assign: [{ ifname: "a", subnetId: 1 }, { ifname: "b", subnetId: 1 }] } }],
      /subnetId 1 is assigned twice/,
    ],
    [
      "PD to another uplink",
      [
        { ifname: "eth0", v4: false, v6: true, prefixDelegation: { assign: [{ ifname: "eth1", subnetId: 1 }] } },
        { ifname: "eth1", v4: true, v6: false },
      ],
      /eth1 runs its own DHCP client/,
    ],
    ["two uplinks with one IAID", [{ ifname: "a", v4: true, v6: true, iaid: 5 }, { ifname: "b", v4: true, v6: true, iaid: 5 }], /up1: IAID 5 is also used by NetworkInterface\/up0/],
  ];
  for (const [what, specs, message] of invalid)
    test(`rejects ${what}, naming who asked`, () => {
      const withRef = specs.map((s, i) => ({ ...s, ref: `NetworkInterface/up${i}` }));
      expect(() => renderDhcpcdConfig(withRef)).toThrow(InvalidInputError);
      expect(() => renderDhcpcdConfig(withRef)).toThrow(message);
      expect(() => renderDhcpcdConfig(withRef)).toThrow(/NetworkInterface\/up\d: /);
    });
});

// Lease files dhcpcd 9.4.1 wrote in the lab's setup: the DHCPv4 ACK from dnsmasq (300 bytes:
// BOOTP header, zeros, options) and the DHCPv6 REPLY from kea with an IA_NA and an IA_PD.
const hex = (h: string) => Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16)));
const bootpHead = "0201060046c22cad0000000000000000c633646fc63364fe0000000096b880a18f09";
const lease4 = hex(
  bootpHead +
    "00".repeat(236 - bootpHead.length / 2) +
    "638253633501053604c63364fe330400000e103a04000007083b0400000c4e0104ffffff001c04c63364ff0604c63364350304c63364feff0000000000000000",
);
const lease6 = hex(
  "07bcfa840001000e000100013299b4574e5c44adb83f0002000b000200007ed901020304050003002800000001000003e8000007d00005001820010db800000001000000000000010000000bb800000fa00019002900000001000003e8000007d0001a001900000bb800000fa03820010db8010002000000000000000000",
);

describe("reading leases back", () => {
  test("a DHCPv4 lease file: address and mask, router, DNS, server, lease time", () => {
    expect(parseLease4(lease4)).toEqual({
      address: "198.51.100.111/24",
      gateway: "198.51.100.254",
      dnsServers: ["198.51.100.53"],
      server: "198.51.100.254",
      leaseSeconds: 3600,
    });
    expect(parseLease4(lease4.subarray(0, 200))).toBeUndefined();
  });

  test("a DHCPv6 lease file: the IA_NA address and the delegated prefix with its lifetimes", () => {
    expect(parseLease6(lease6)).toEqual({
      addresses: ["2001:db8:0:1::100/128"],
      delegatedPrefixes: [{ prefix: "2001:db8:100:200::/56", validSeconds: 4000, preferredSeconds: 3000 }],
      dnsServers: [],
    });
    // A truncated message yields what is whole, and nothing invented.
    expect(parseLease6(lease6.subarray(0, 60))).toBeUndefined();
  });

  test("status: dhcpcd's addresses on the uplink and the delegated /64s on the LANs, not the static ones", () => {
    const addr = (local: string, prefixlen: number, extra: object = {}) => ({
      family: local.includes(":") ? "inet6" : "inet",
      local,
      prefixlen,
      scope: local.startsWith("fe80") ? "link" : "global",
      valid_life_time: 4294967295,
      preferred_life_time: 4294967295,
      ...extra,
    });
    const dyn = { dynamic: true, noprefixroute: true, valid_life_time: 3988, preferred_life_time: 2988 };
    const ip = JSON.stringify([
      { ifname: "eth0", addr_info: [addr("198.51.100.111", 24, dyn), addr("203.0.113.1", 24), addr("2001:db8:0:1::100", 128, dyn), addr("fe80::1", 64)] },
      { ifname: "eth2", addr_info: [addr("2001:db8:100:201::1", 64, dyn), addr("2001:db8:ffff::1", 64, dyn), addr("192.168.10.1", 24)] },
    ]);
    const spec: DhcpClientSpec = { ifname: "eth0", v4: true, v6: true, prefixDelegation: { assign: [{ ifname: "eth2", subnetId: 1 }] } };
    const [s] = buildStatus([spec], true, new Map([["eth0", { v4: parseLease4(lease4)!, v6: parseLease6(lease6)! }]]), ip);
    expect(s!.running).toBe(true);
    expect(s!.v4?.address).toBe("198.51.100.111/24");
    expect(s!.addresses.map((a) => a.cidr)).toEqual(["198.51.100.111/24", "2001:db8:0:1::100/128"]);
    expect(s!.addresses[0]).toEqual({ cidr: "198.51.100.111/24", family: 4, validSeconds: 3988, preferredSeconds: 2988 });
    expect(s!.assigned).toEqual([
      { ifname: "eth2", subnetId: 1, addresses: [{ cidr: "2001:db8:100:201::1/64", family: 6, validSeconds: 3988, preferredSeconds: 2988 }] },
    ]);
  });

  test("IPv6 prefix containment", () => {
    expect(inPrefix6("2001:db8:100:1::1/64", "2001:db8:100::/56")).toBe(true);
    expect(inPrefix6("2001:db8:100:100::1/64", "2001:db8:100::/56")).toBe(false);
    expect(inPrefix6("2001:db8::1/128", "::/0")).toBe(true);
    expect(inPrefix6("not-an-address/64", "2001:db8::/32")).toBe(false);
  });
});
