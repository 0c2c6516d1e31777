import { expect, test } from "bun:test";
import { parseIpAddressJson } from "../../src/host/observe-links";

// Shape of `ip -json -details address show` (iproute2 6.1), trimmed to the fields fos1 reads.
const sample = JSON.stringify([
  { ifindex: 1, ifname: "lo", flags: ["LOOPBACK", "UP", "LOWER_UP"], mtu: 65536, operstate: "UNKNOWN", link_type: "loopback", address: "00:00:00:00:00:00",
    addr_info: [{ family: "inet", local: "127.0.0.1", prefixlen: 8, scope: "host" }, { family: "inet6", local: "::1", prefixlen: 128, scope: "host" }] },
  { ifindex: 3, ifname: "bond0", flags: ["BROADCAST", "MASTER", "UP"], mtu: 9000, operstate: "DOWN", link_type: "ether", address: "52:54:00:00:01:00",
    ifalias: "fos1:bond0", linkinfo: { info_kind: "bond" }, addr_info: [{ family: "inet", local: "198.18.0.1", prefixlen: 30, scope: "global" }] },
  { ifindex: 4, ifname: "eth1", flags: ["BROADCAST", "SLAVE"], mtu: 9000, operstate: "DOWN", link_type: "ether", address: "52:54:00:00:01:01", master: "bond0", addr_info: [] },
]);

test("links keep kind, admin and oper state, master, alias and addresses", () => {
  const [lo, bond, eth1] = parseIpAddressJson(sample);
  expect(lo).toMatchObject({ name: "lo", kind: "loopback", mac: null, adminUp: true });
  expect(lo!.addresses.map((a) => a.cidr)).toEqual(["127.0.0.1/8", "::1/128"]);
  expect(bond).toMatchObject({ kind: "bond", adminUp: true, state: "DOWN", alias: "fos1:bond0", mtu: 9000 });
  expect(eth1).toMatchObject({ kind: "physical", adminUp: false, master: "bond0", addresses: [] });
});
