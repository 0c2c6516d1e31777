// A host with nothing configured on one of the router's LANs, as the demo and the lab LAN test
// use it: a macvlan on the lab host's VLAN link, in a namespace of its own in the peer VM, that
// gets its IPv4 address from busybox udhcpc and its IPv6 addresses from the kernel's SLAAC (or,
// asked, an offer from a DHCPv6 server through dhcpcd's test mode).
import type { LabVm } from "./vm";

/** The VLAN link of each LAN's lab host, in that host's namespace (see labHosts). */
const VLAN_LINK = { lan: "eth2.10", guest: "eth2.20" } as const;

export type LanName = keyof typeof VLAN_LINK;

/**
 * What busybox udhcpc runs on each lease event: the client configures itself as a DHCP client
 * would and writes down what it was told, to $LEASE_OUT (default /tmp/lease-<interface>).
 * Also the netns LAN test's and the LAN benchmark's client.
 */
export const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  bound|renew)
    ip -4 addr flush dev "$interface" scope global
    ip addr add "$ip/$mask" dev "$interface"
    [ -z "$router" ] || ip route replace default via "$router"
    echo "ip=$ip router=$router dns=$dns domain=$domain" > "\${LEASE_OUT:-/tmp/lease-$interface}" ;;
esac
`;

export class LanClient {
  private constructor(
    private readonly peer: LabVm,
    /** The client's namespace; its one link is named after it with a 0. */
    readonly ns: string,
  ) {}

  private get link(): string {
    return `${this.ns}0`;
  }

  /** A client on lan or guest with the given MAC, its link up and accepting router advertisements. */
  static async add(peer: LabVm, on: LanName, ns: string, mac: string): Promise<LanClient> {
    const client = new LanClient(peer, ns);
    await peer.put("/lab/udhcpc.sh", UDHCPC_SCRIPT, "0755");
    await peer.runOk(
      [
        `ip netns add ${ns}`,
        `ip -n ${on} link add ${client.link} link ${VLAN_LINK[on]} address ${mac} type macvlan mode bridge`,
        `ip -n ${on} link set ${client.link} netns ${ns}`,
        `ip -n ${ns} link set lo up && ip -n ${ns} link set ${client.link} up`,
        `ip netns exec ${ns} sysctl -qw net.ipv6.conf.${client.link}.accept_ra=2`,
      ].join(" && "),
    );
    return client;
  }

  /** Runs a command in the client's namespace. */
  run(command: string, timeoutSec = 30) {
    return this.peer.run(`ip netns exec ${this.ns} ${command}`, { timeoutSec });
  }

  async setMac(mac: string): Promise<void> {
    await this.peer.runOk(`ip -n ${this.ns} link set ${this.link} address ${mac}`);
  }

  /** Asks for a lease as a host with no configuration does; what it was told (ip, router, dns, domain). */
  async lease(hostname: string): Promise<Record<string, string>> {
    const file = `/tmp/lease-${this.link}`;
    await this.peer.runOk(`rm -f ${file}; ip netns exec ${this.ns} busybox udhcpc -i ${this.link} -n -q -f -t 15 -T 2 -x hostname:${hostname} -s /lab/udhcpc.sh >/dev/null 2>&1`, { timeoutSec: 90 });
    return Object.fromEntries((await this.peer.runOk(`cat ${file}`)).trim().split(" ").map((kv) => kv.split("=") as [string, string]));
  }

  /** The global IPv6 addresses SLAAC made: address → preferred (true) or deprecated (false). */
  async slaac(): Promise<Map<string, boolean>> {
    const out = await this.peer.runOk(`ip netns exec ${this.ns} ip -6 -o addr show dev ${this.link} scope global`);
    return new Map(
      out.split("\n").flatMap((line) => {
        const m = /inet6 ([0-9a-f:]+)\/64/.exec(line);
        return m ? [[m[1]!, !/\bdeprecated\b|preferred_lft 0sec/.test(line)] as [string, boolean]] : [];
      }),
    );
  }

  /** What dhcpcd said the last time dhcpv6Address asked. */
  lastDhcpv6Output = "";

  /** The address a DHCPv6 server offers the client (dhcpcd in test mode: it asks, configures nothing), or null. */
  async dhcpv6Address(): Promise<string | null> {
    await this.peer.put("/lab/dhcpcd6.conf", "ipv6only\nia_na 1\n");
    // dhcpcd's run and database folders, which nothing else on the peer makes.
    await this.peer.runOk("mkdir -p /run/dhcpcd /var/lib/dhcpcd");
    const r = await this.run(`timeout 30 dhcpcd -f /lab/dhcpcd6.conf -6 -T ${this.link} 2>&1`, 45);
    this.lastDhcpv6Output = r.stdout;
    // dhcpcd logs the address advertised, then the server's reply to its request for it (the
    // variables test mode prints come from a hook script the lab image does not have).
    if (!r.stdout.includes("REPLY6 received")) return null;
    return /ADV ([0-9a-f:]+)\/128 from/.exec(r.stdout)?.[1] ?? null;
  }

  /** The IPv4 addresses busybox nslookup got for name from server, or [] when none. */
  async resolve(name: string, server: string): Promise<string[]> {
    const r = await this.run(`busybox nslookup -type=a ${name} ${server}`);
    return [...r.stdout.slice(r.stdout.indexOf("Name:")).matchAll(/Address: ([0-9.]+)/g)].map((m) => m[1]!);
  }
}

/** The provider routes the prefixes it delegates to the router's uplink (kea hands them out but routes nothing). */
export async function routeDelegatedPrefixes(peer: LabVm, router: LabVm): Promise<void> {
  const uplink = (await router.runOk("ip -6 -o addr show dev uplink scope link")).match(/inet6 (fe80::[0-9a-f:]+)/)![1]!;
  await peer.runOk(`ip -n wan -6 route replace 2001:db8::/32 via ${uplink} dev bond0`);
}
