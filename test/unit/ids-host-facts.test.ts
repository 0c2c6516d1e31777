// What the IDS reads of the host for its allowlist (src/ids/host-facts.ts): dhcpcd's lease files
// (a DHCPv4 ACK as dhcpcd stores it), no lease directory at all, and a part that cannot be read
// (left out and said once, the rest still read). The kernel's routes are read in
// test/netns/ids-storm.test.ts; their JSON in ids-policy.test.ts.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostFactsReader, readLeases } from "../../src/ids/host-facts";
import { memoryLogger } from "../helpers/cluster";
import { dhcpAck } from "../helpers/dhcp-lease";

const tmp = mkdtempSync(join(tmpdir(), "fos1-ids-facts-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("dhcpcd's leases", () => {
  test("each uplink's lease file: its gateway, DHCP server and DNS servers; other files and empty leases are not leases", () => {
    const dir = join(tmp, "leases");
    mkdirSync(dir);
    writeFileSync(join(dir, "eth0.lease"), dhcpAck({ address: "198.51.100.2", gateway: "198.51.100.1", server: "198.51.100.67", dns: ["198.51.100.53", "9.9.9.9"] }));
    writeFileSync(join(dir, "eth1.lease"), new Uint8Array(100)); // torn: no BOOTP message
    writeFileSync(join(dir, "duid"), "00:01:00:01");
    expect(readLeases(dir)).toEqual([{ ifname: "eth0", gateway: "198.51.100.1", server: "198.51.100.67", dnsServers: ["198.51.100.53", "9.9.9.9"] }]);
  });

  test("no lease directory: no DHCP client has run, no leases", () => {
    expect(readLeases(join(tmp, "nowhere"))).toEqual([]);
  });

  test("a part that cannot be read is left out and said once; the others are read", async () => {
    const { log, lines } = memoryLogger();
    const notADir = join(tmp, "a-file");
    writeFileSync(notADir, "");
    let nodesUp = false;
    const reader = hostFactsReader({ leaseDir: notADir, nodes: async () => (nodesUp ? ["172.20.0.11"] : Promise.reject(new Error("connection refused"))), log });
    const first = await reader.read();
    expect({ leases: first.leases, nodes: first.nodes }).toEqual({ leases: [], nodes: [] });
    await reader.read();
    const warned = (part: string) => lines.filter((l) => l.includes("cannot read a part of the IDS allowlist") && l.includes(part)).length;
    expect([warned("leases"), warned("cluster nodes")]).toEqual([1, 1]);
    nodesUp = true;
    expect((await reader.read()).nodes).toEqual(["172.20.0.11"]);
    expect(first.links.length).toBeGreaterThan(0); // this machine's links, read for real
  });
});
