// An uplink with a DHCP server behind it, for the netns tests of fos1's DHCP client: dnsmasq in
// a peer namespace on the other end of wan0, and dhcpcd's compiled-in folders moved into the test.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Netns } from "../helpers/netns";

/** A namespace whose dnsmasq leases 198.51.100.100–199 (router 198.51.100.254) over a veth to ns's wan0. */
export function wanDhcpServer(ns: Netns, tag: string, dir: string): Netns {
  const srv = Netns.create(tag);
  ns.sh(`ip link add wan0 type veth peer name srv0 netns ${srv.name} && ip link set wan0 up`);
  srv.sh("ip link set srv0 up && ip address add 198.51.100.254/24 dev srv0");
  Bun.spawn(
    srv.argv(["dnsmasq", "--keep-in-foreground", "--log-facility=-", "--conf-file=/dev/null", "--port=0", "--user=root", "--pid-file=",
      "--interface=srv0", "--bind-interfaces", `--dhcp-leasefile=${join(dir, "dnsmasq.leases")}`,
      "--dhcp-range=198.51.100.100,198.51.100.199,255.255.255.0,1h", "--dhcp-option=option:router,198.51.100.254"]),
    { stdout: "ignore", stderr: "ignore" },
  );
  return srv;
}

/**
 * A command prefix that runs what follows with dhcpcd's pid file and control socket
 * (/run/dhcpcd) and leases (/var/lib/dhcpcd), compiled in, in folders of the test under dir:
 * bind-mounted in the namespace's own mount namespace (`ip netns exec` gives one), and kept
 * across runs like a host's.
 */
export function dhcpcdFoldersIn(dir: string): string[] {
  for (const d of ["run", "db"]) mkdirSync(join(dir, "dhcpcd", d), { recursive: true });
  return ["sh", "-ec", `mkdir -p /run/dhcpcd /var/lib/dhcpcd
mount --bind ${join(dir, "dhcpcd/run")} /run/dhcpcd
mount --bind ${join(dir, "dhcpcd/db")} /var/lib/dhcpcd
exec "$@"`, "sh"];
}
