// A dhcpcd that does not stop in time is killed, and then it removes nothing: fos1 removes
// what it installed itself. Forced here by freezing dhcpcd before the stop (the supervisor in
// a child process on the real kernel, dnsmasq serving the lease from a peer namespace).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Netns } from "../helpers/netns";

let cli: Netns, srv: Netns, dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "fos1-dhcp-stop-"));
  cli = Netns.create("dstop-c");
  srv = Netns.create("dstop-s");
  cli.sh(`ip link add wan0 type veth peer name srv0 netns ${srv.name} && ip link set wan0 up`);
  srv.sh("ip link set srv0 up && ip address add 198.51.100.254/24 dev srv0");
  Bun.spawn(
    srv.argv(["dnsmasq", "--keep-in-foreground", "--log-facility=-", "--conf-file=/dev/null", "--port=0", "--user=root", "--pid-file=",
      "--interface=srv0", "--bind-interfaces", `--dhcp-leasefile=${join(dir, "dnsmasq.leases")}`,
      "--dhcp-range=198.51.100.100,198.51.100.199,255.255.255.0,1h", "--dhcp-option=option:router,198.51.100.254"]),
    { stdout: "ignore", stderr: "ignore" },
  );
});

afterAll(() => {
  for (const ns of [cli, srv]) ns?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test("stopping a dhcpcd that had to be killed still removes its address and routes", () => {
  for (const d of ["run", "db"]) mkdirSync(join(dir, "dhcpcd", d), { recursive: true });
  // dhcpcd's own folders (compiled in) are the test's, in the child's mount namespace.
  const script = `mkdir -p /run/dhcpcd /var/lib/dhcpcd
mount --bind ${join(dir, "dhcpcd/run")} /run/dhcpcd
mount --bind ${join(dir, "dhcpcd/db")} /var/lib/dhcpcd
exec "$@"`;
  const r = Bun.spawnSync(cli.argv(["sh", "-ec", script, "sh", process.execPath, join(import.meta.dir, "dhcp-stop-child.ts"), join(dir, "state")]), { stdout: "pipe", stderr: "pipe", timeout: 60_000 });
  const out = r.stdout.toString();
  const log = r.stderr.toString();
  expect({ exitCode: r.exitCode, out, log: log.slice(-600) }).toMatchObject({ exitCode: 0, out: expect.stringMatching(/leased: wan0\S* +UP +198\.51\.100\.1\d\d\/24; default via 198\.51\.100\.254[\s\S]*\nstopped/) });
  expect(log).toContain("dhcpcd did not stop in time; killing it");
  expect(log).toContain("dhcpcd did not stop in time and was killed, leaving addresses or routes it installed; removing them");
  expect(cli.sh("ip -4 -o address show dev wan0")).not.toMatch(/198\.51\.100\./);
  expect(cli.sh("ip -4 route show proto dhcp")).toBe("");
}, 90_000);
