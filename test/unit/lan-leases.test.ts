// dnsmasq's lease file as fos1 reads it (src/engine/lan/leases.ts): IPv4 leases, the server's
// DUID line, IPv6 leases, names missing ("*"), infinite leases; each placed on the interface
// whose network holds its address (the longest prefix when networks nest).
import { expect, test } from "bun:test";
import { parseLeases, placeLeases } from "../../src/engine/lan/leases";

const FILE = `1765079000 52:54:00:12:34:56 192.168.10.50 printer 01:52:54:00:12:34:56
1765079100 ce:3c:f2:d2:c1:14 192.168.10.126 laptop *
0 52:54:00:aa:bb:cc 192.168.20.7 * *
duid 00:01:00:01:2c:3d:4e:5f:52:54:00:00:00:01
1765079200 1234 2001:db8:10::1005 laptop 00:04:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99
`;

test("every lease, with its client, name and expiry", () => {
  expect(parseLeases(FILE)).toEqual([
    { family: 4, address: "192.168.10.50", client: "52:54:00:12:34:56", hostname: "printer", expires: new Date(1765079000 * 1000).toISOString(), interface: null },
    { family: 4, address: "192.168.10.126", client: "ce:3c:f2:d2:c1:14", hostname: "laptop", expires: new Date(1765079100 * 1000).toISOString(), interface: null },
    { family: 4, address: "192.168.20.7", client: "52:54:00:aa:bb:cc", hostname: null, expires: null, interface: null },
    { family: 6, address: "2001:db8:10::1005", client: "00:04:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99", hostname: "laptop", expires: new Date(1765079200 * 1000).toISOString(), interface: null },
  ]);
  expect(parseLeases("")).toEqual([]);
});

test("placed on the interface whose network holds the address; none when no network does", () => {
  const placed = placeLeases(parseLeases(FILE), [
    { name: "lan", cidrs: ["192.168.10.1/24", "2001:db8:10::1/64"] },
    { name: "wide", cidrs: ["192.168.0.1/16"] },
  ]);
  expect(placed.map((l) => [l.address, l.interface])).toEqual([
    ["192.168.10.50", "lan"],
    ["192.168.10.126", "lan"],
    ["192.168.20.7", "wide"],
    ["2001:db8:10::1005", "lan"],
  ]);
  expect(placeLeases(parseLeases(FILE), [])[0]!.interface).toBeNull();
});
