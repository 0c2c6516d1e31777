// A dhcpcd that does not stop in time is killed, and then it removes nothing: fos1 removes
// what it installed itself. Forced here by freezing dhcpcd before the stop (the supervisor in
// a child process on the real kernel, dnsmasq serving the lease from a peer namespace).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Netns } from "../helpers/netns";
import { dhcpcdFoldersIn, wanDhcpServer } from "./wan-dhcp";

let cli: Netns, srv: Netns, dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "fos1-dhcp-stop-"));
  cli = Netns.create("dstop-c");
  srv = wanDhcpServer(cli, "dstop-s", dir);
});

afterAll(() => {
  for (const ns of [cli, srv]) ns?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test("stopping a dhcpcd that had to be killed still removes its address and routes", () => {
  const r = Bun.spawnSync(cli.argv([...dhcpcdFoldersIn(dir), process.execPath, join(import.meta.dir, "dhcp-stop-child.ts"), join(dir, "state")]), { stdout: "pipe", stderr: "pipe", timeout: 60_000 });
  const out = r.stdout.toString();
  const log = r.stderr.toString();
  expect({ exitCode: r.exitCode, out, log: log.slice(-600) }).toMatchObject({ exitCode: 0, out: expect.stringMatching(/leased: wan0\S* +UP +198\.51\.100\.1\d\d\/24; default via 198\.51\.100\.254[\s\S]*\nstopped/) });
  expect(log).toContain("dhcpcd did not stop in time; killing it");
  expect(log).toContain("dhcpcd did not stop in time and was killed, leaving addresses or routes it installed; removing them");
  expect(cli.sh("ip -4 -o address show dev wan0")).not.toMatch(/198\.51\.100\./);
  expect(cli.sh("ip -4 route show proto dhcp")).toBe("");
}, 90_000);
