// What a DHCP server may do to the router's routes (#16 point 3): dhcpcd's config keeps every
// route option but the router option away from dhcpcd; with classlessStaticRoutes, fos1 installs
// option 121's routes less each that overlaps a connected, LAN or management network; dhcpcd is
// started with only the capabilities its privilege separation needs. The lab test
// (test/lab/dhcp.test.ts) sends these routes from a rogue server and checks the packets.
import { describe, expect, test } from "bun:test";
import { AGENT_CAPABILITIES } from "../../hack/extension/least-privilege";
import { loadConfigText } from "../../src/api/load";
import { desiredState } from "../../src/engine/desired";
import {
  boundingSetProblem,
  classlessRouteBatch,
  connectedNetworks,
  decodeClasslessRoutes,
  DHCPCD_CAPABILITIES,
  DHCPCD_CAPABILITY_MASK,
  dhcpcdLauncher,
  parseLease4,
  renderDhcpcdConfig,
  screenClasslessRoutes,
} from "../../src/engine/dhcp";

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));

describe("dhcpcd's config: no routes from the server but the default route", () => {
  test("options 121, 249 and 33 are neither requested nor acted on, whatever the uplink asks", () => {
    for (const classlessStaticRoutes of [false, true]) {
      const config = renderDhcpcdConfig([{ ifname: "eth0", v4: true, v6: false, classlessStaticRoutes }]);
      expect(config).toContain("\nnooption classless_static_routes, ms_classless_static_routes, static_routes\n");
      expect(config).not.toMatch(/^option .*static_routes/m);
    }
  });

  test("router advertisements: an IPv6 uplink takes only their default route, no prefix (no route, no SLAAC address from them)", () => {
    const config = renderDhcpcdConfig([{ ifname: "eth0", v4: true, v6: true, prefixDelegation: { assign: [{ ifname: "eth2", subnetId: 1 }] } }]);
    const uplink = config.slice(config.indexOf("\ninterface eth0\n"), config.indexOf("\ninterface eth2\n"));
    expect(uplink).toContain("\nipv6rs\nnooption nd_prefix_information\n");
    // The delegation targets solicit nothing.
    expect(config.slice(config.indexOf("\ninterface eth2\n"))).toContain("noipv6rs");
  });

  test("turning classlessStaticRoutes on or off changes the config, so dhcpcd restarts with a fresh lease", () => {
    const off = renderDhcpcdConfig([{ ifname: "eth0", v4: true, v6: false }]);
    const on = renderDhcpcdConfig([{ ifname: "eth0", v4: true, v6: false, classlessStaticRoutes: true }]);
    expect(on).not.toBe(off);
  });
});

describe("option 121 from the lease", () => {
  test("RFC 3442's encoding: prefix length, significant octets, gateway; a default; an on-link route", () => {
    // 192.168.99.0/25 via 198.51.100.254, 10.77.0.0/16 via 198.51.100.254, 0.0.0.0/0 via 198.51.100.250, 203.0.113.0/24 on-link
    const body = hex("19c0a86300c63364fe" + "100a4dc63364fe" + "00c63364fa" + "18cb007100000000");
    expect(decodeClasslessRoutes(body)).toEqual([
      { dst: "192.168.99.0/25", gateway: "198.51.100.254" },
      { dst: "10.77.0.0/16", gateway: "198.51.100.254" },
      { dst: "0.0.0.0/0", gateway: "198.51.100.250" },
      { dst: "203.0.113.0/24", gateway: "0.0.0.0" },
    ]);
  });

  test("a truncated or impossible entry ends the list there", () => {
    expect(decodeClasslessRoutes(hex("100a4dc63364fe" + "19c0a863"))).toEqual([{ dst: "10.77.0.0/16", gateway: "198.51.100.254" }]);
    expect(decodeClasslessRoutes(hex("21" + "00".repeat(9)))).toEqual([]);
  });

  test("parseLease4 keeps option 121 as the server sent it", () => {
    const head = "0201060046c22cad0000000000000000c633646fc63364fe0000000096b880a18f09";
    const options = "638253633501053604c63364fe0104ffffff000304c63364fe" + "7910" + "19c0a86300c63364fe100a4dc63364fe" + "ff";
    const lease = parseLease4(hex(head + "00".repeat(236 - head.length / 2) + options));
    expect(lease?.classlessRoutes).toEqual([
      { dst: "192.168.99.0/25", gateway: "198.51.100.254" },
      { dst: "10.77.0.0/16", gateway: "198.51.100.254" },
    ]);
  });
});

describe("screening option 121's routes", () => {
  const protectedNets = ["192.168.99.0/24", "192.168.10.1/24", "198.51.100.0/24", "2001:db8::/64"];

  test("a route inside, around or equal to a protected network is refused, naming it; the rest is accepted", () => {
    const s = screenClasslessRoutes(
      [
        { dst: "192.168.99.0/25", gateway: "198.51.100.254" }, // inside management
        { dst: "192.168.0.0/16", gateway: "198.51.100.254" }, // around the LAN and management
        { dst: "192.168.10.0/24", gateway: "198.51.100.254" }, // the LAN itself
        { dst: "198.51.100.128/25", gateway: "0.0.0.0" }, // inside the uplink's own connected network
        { dst: "10.77.0.0/16", gateway: "198.51.100.254" },
        { dst: "203.0.113.0/24", gateway: "0.0.0.0" },
      ],
      protectedNets,
    );
    expect(s.accepted).toEqual([
      { dst: "10.77.0.0/16", gateway: "198.51.100.254" },
      { dst: "203.0.113.0/24", gateway: "0.0.0.0" },
    ]);
    expect(s.refused).toEqual([
      { dst: "192.168.99.0/25", gateway: "198.51.100.254", overlaps: ["192.168.99.0/24"] },
      { dst: "192.168.0.0/16", gateway: "198.51.100.254", overlaps: ["192.168.10.0/24", "192.168.99.0/24"] },
      { dst: "192.168.10.0/24", gateway: "198.51.100.254", overlaps: ["192.168.10.0/24"] },
      { dst: "198.51.100.128/25", gateway: "0.0.0.0", overlaps: ["198.51.100.0/24"] },
    ]);
  });

  test("the default route is left to dhcpcd (router option); host bits are cleared; a repeated destination counts once", () => {
    const s = screenClasslessRoutes(
      [
        { dst: "0.0.0.0/0", gateway: "198.51.100.250" },
        { dst: "10.77.1.2/16", gateway: "198.51.100.254" },
        { dst: "10.77.0.0/16", gateway: "198.51.100.253" },
      ],
      protectedNets,
    );
    expect(s).toEqual({ accepted: [{ dst: "10.77.0.0/16", gateway: "198.51.100.254" }], refused: [] });
  });

  test("connected networks: every IPv4 address's network, loopback's host scope left out", () => {
    const ip = JSON.stringify([
      { ifname: "lo", ifindex: 1, addr_info: [{ family: "inet", local: "127.0.0.1", prefixlen: 8, scope: "host" }] },
      { ifname: "eth0", ifindex: 2, addr_info: [{ family: "inet", local: "198.51.100.107", prefixlen: 24, scope: "global" }, { family: "inet6", local: "fe80::1", prefixlen: 64, scope: "link" }] },
      { ifname: "eth3", ifindex: 5, addr_info: [{ family: "inet", local: "192.168.99.1", prefixlen: 24, scope: "global" }] },
    ]);
    expect(connectedNetworks(ip)).toEqual(["198.51.100.0/24", "192.168.99.0/24"]);
  });
});

describe("installing the accepted routes", () => {
  const want = [
    { dst: "10.77.0.0/16", gateway: "198.51.100.254" },
    { dst: "203.0.113.0/24", gateway: "0.0.0.0" },
  ];

  test("nothing installed yet: one replace per route, on-link ones with scope link, all marked with fos1's DHCP protocol", () => {
    expect(classlessRouteBatch("eth0", 1002, want, [])).toEqual([
      "route replace 10.77.0.0/16 via 198.51.100.254 dev eth0 metric 1002 proto 242",
      "route replace 203.0.113.0/24 scope link dev eth0 metric 1002 proto 242",
    ]);
  });

  test("already as wanted: nothing to do; a changed gateway is replaced; a route no longer wanted is deleted; other uplinks' are left", () => {
    const installed = [
      { dst: "10.77.0.0/16", gateway: "198.51.100.254", dev: "eth0", metric: 1002 },
      { dst: "203.0.113.0/24", dev: "eth0", metric: 1002 },
      { dst: "172.16.0.0/12", gateway: "198.51.100.254", dev: "eth0", metric: 1002 },
      { dst: "172.16.0.0/12", gateway: "203.0.113.254", dev: "eth1", metric: 1003 },
    ];
    expect(classlessRouteBatch("eth0", 1002, want, installed.slice(0, 2))).toEqual([]);
    expect(classlessRouteBatch("eth0", 1002, [{ dst: "10.77.0.0/16", gateway: "198.51.100.253" }], installed)).toEqual([
      "route replace 10.77.0.0/16 via 198.51.100.253 dev eth0 metric 1002 proto 242",
      "route del 203.0.113.0/24 dev eth0 metric 1002 proto 242",
      "route del 172.16.0.0/12 dev eth0 metric 1002 proto 242",
    ]);
  });

  test("a new metric: the old route goes, or it would stay beside the new one", () => {
    expect(classlessRouteBatch("eth0", 50, want.slice(0, 1), [{ dst: "10.77.0.0/16", gateway: "198.51.100.254", dev: "eth0", metric: 1002 }])).toEqual([
      "route del 10.77.0.0/16 dev eth0 metric 1002 proto 242",
      "route replace 10.77.0.0/16 via 198.51.100.254 dev eth0 metric 50 proto 242",
    ]);
  });
});

describe("from the config", () => {
  const config = (dhcp: string) => `
apiVersion: network.fos1.io/v1alpha1
kind: NetworkInterface
metadata: {name: wan}
spec: {device: eth0, dhcp: ${dhcp}}
---
apiVersion: network.fos1.io/v1alpha1
kind: NetworkInterface
metadata: {name: lan}
spec: {device: eth2, addresses: [192.168.10.1/24, "2001:db8:10::1/64"]}
---
apiVersion: network.fos1.io/v1alpha1
kind: NetworkInterface
metadata: {name: mgmt}
spec: {device: eth3, addresses: [192.168.99.1/24]}
`;
  const dhcpOf = (dhcp: string) => {
    const loaded = loadConfigText(config(dhcp), "config.yaml");
    expect(loaded.problems).toEqual([]);
    return desiredState(loaded.objects).dhcp;
  };

  test("off by default: the uplink's spec asks for no routes from the server", () => {
    const [wan] = dhcpOf("{v4: true}");
    expect(wan?.classlessStaticRoutes).toBeUndefined();
    expect(wan?.protectedNetworks).toBeUndefined();
  });

  test("on: the uplink's spec names every IPv4 network the config puts on another interface", () => {
    const [wan] = dhcpOf("{v4: true, classlessStaticRoutes: true}");
    expect(wan).toMatchObject({ ifname: "eth0", classlessStaticRoutes: true, protectedNetworks: ["192.168.10.0/24", "192.168.99.0/24"] });
  });

  test("a value that is not a boolean is refused, naming the field", () => {
    const loaded = loadConfigText(config("{v4: true, classlessStaticRoutes: yes please}"), "config.yaml");
    expect(loaded.problems.map((p) => `${p.path} ${p.message}`).join("\n")).toContain("classlessStaticRoutes");
  });
});

describe("dhcpcd's capabilities", () => {
  test("a dhcpcd holding more than its list is named (setpriv cannot cut a bounding set without CAP_SETPCAP, and says nothing)", () => {
    expect(boundingSetProblem("Name:\tdhcpcd\nCapBnd:\t00000000000434c0\n")).toBeUndefined();
    expect(boundingSetProblem("CapBnd:\t000000c0002434e0\n")).toBe(
      "dhcpcd holds capabilities beyond net_admin, net_raw, net_bind_service, setuid, setgid, sys_chroot (bounding set 0x000000c0002434e0): setpriv could not cut them, which takes CAP_SETPCAP",
    );
    expect(boundingSetProblem("Name:\tdhcpcd\n")).toBe("its bounding set cannot be read");
  });

  test("setpriv execs dhcpcd with a bounding set of exactly what privilege separation needs, and nothing inheritable", () => {
    expect(dhcpcdLauncher("/usr/bin/setpriv")).toEqual([
      "/usr/bin/setpriv",
      "--inh-caps=-all",
      "--bounding-set=-all,+net_admin,+net_raw,+net_bind_service,+setuid,+setgid,+sys_chroot",
      "--",
    ]);
    expect(DHCPCD_CAPABILITY_MASK).toBe(0x434c0n);
    // Never more than the agent itself may hold.
    for (const c of DHCPCD_CAPABILITIES) expect(AGENT_CAPABILITIES).toContain(c);
  });
});
