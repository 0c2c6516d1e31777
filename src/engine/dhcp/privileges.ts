// What dhcpcd may do, and the user it runs its network-facing processes as.
//
// dhcpcd 9.4 (Debian builds it with privilege separation) starts as root, forks its privileged
// proxy — the one process that keeps root: it adds addresses and routes, opens the packet
// sockets and writes the lease files — and then chroots every other process (the manager that
// parses the servers' messages, the network and control proxies) into the home folder of the
// user "dhcpcd" and drops to that user (src/privsep.c: ps_init, ps_dropprivs). Without that user,
// or without its home folder, it says "no such user dhcpcd" or "refusing chroot" and runs
// everything as root.
//
// fos1 starts it through setpriv with a bounding set of only what that needs (the agent holds
// more: BPF, PERFMON, SYS_ADMIN, KILL for itself). For root, exec makes the permitted set the
// bounding set, so the privileged proxy holds exactly these; the dropped processes hold none
// (setuid away from root clears them). Each was found by running the lab's DHCP test without it:
//   net_admin         addresses and routes through netlink
//   net_raw           the packet sockets DHCPv4 needs before the uplink has an address, and ARP
//   net_bind_service  the DHCP client ports 68 and 546
//   setuid, setgid    dropping to the dhcpcd user (setgroups, setgid, setuid)
//   sys_chroot        chroot into the dhcpcd user's home before that
export const DHCPCD_USER = "dhcpcd";

export const DHCPCD_CAPABILITIES = ["net_admin", "net_raw", "net_bind_service", "setuid", "setgid", "sys_chroot"] as const;

/** linux/capability.h's numbers of DHCPCD_CAPABILITIES. */
const CAP_NUMBERS: Record<(typeof DHCPCD_CAPABILITIES)[number], number> = { setgid: 6, setuid: 7, net_bind_service: 10, net_admin: 12, net_raw: 13, sys_chroot: 18 };

/** DHCPCD_CAPABILITIES as the mask /proc/PID/status prints (CapBnd, CapEff, …). */
export const DHCPCD_CAPABILITY_MASK = DHCPCD_CAPABILITIES.reduce((m, c) => m | (1n << BigInt(CAP_NUMBERS[c])), 0n);

/**
 * What is wrong with the bounding set of the dhcpcd started as pid, from its /proc status text;
 * undefined when it is DHCPCD_CAPABILITIES exactly. setpriv cuts the bounding set only when it
 * holds CAP_SETPCAP, and without it says nothing and runs dhcpcd with all it holds.
 */
export function boundingSetProblem(procStatus: string): string | undefined {
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(procStatus)?.[1];
  if (hex === undefined) return "its bounding set cannot be read";
  const extra = BigInt(`0x${hex}`) & ~DHCPCD_CAPABILITY_MASK;
  if (extra === 0n) return undefined;
  return `dhcpcd holds capabilities beyond ${DHCPCD_CAPABILITIES.join(", ")} (bounding set 0x${hex}): setpriv could not cut them, which takes CAP_SETPCAP`;
}

/** setpriv's argv that execs dhcpcd with DHCPCD_CAPABILITIES as its bounding set and nothing inheritable. */
export function dhcpcdLauncher(setpriv: string): string[] {
  return [setpriv, "--inh-caps=-all", `--bounding-set=-all,${DHCPCD_CAPABILITIES.map((c) => `+${c}`).join(",")}`, "--"];
}
