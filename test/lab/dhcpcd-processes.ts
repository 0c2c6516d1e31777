// dhcpcd's processes in a lab VM as /proc shows them, to check its privilege separation: which
// run as root, which as the dhcpcd user, with which capabilities, chrooted where. Shared by the
// DHCP client's lab test and the extension's boot.
import type { LabVm } from "../../hack/lab/vm";
import { DHCPCD_CAPABILITIES } from "../../src/engine/dhcp";

export interface DhcpcdProcess {
  pid: number;
  /** Its title: dhcpcd names each process ("[manager]", "[privileged proxy]", …). */
  title: string;
  uid: number;
  capInh: bigint;
  capPrm: bigint;
  capEff: bigint;
  capBnd: bigint;
  capAmb: bigint;
  /** Its root as the VM's root sees it: a chroot shows as its folder. */
  root: string;
}

export async function dhcpcdProcesses(vm: LabVm): Promise<DhcpcdProcess[]> {
  const out = await vm.runOk(
    `for p in $(pidof dhcpcd); do echo "$p|$(tr '\\0' ' ' </proc/$p/cmdline)|$(readlink /proc/$p/root)|$(grep -E '^(Uid|CapInh|CapPrm|CapEff|CapBnd|CapAmb):' /proc/$p/status | tr '\\t\\n' ' ;')"; done`,
  );
  return out
    .trim()
    .split("\n")
    .map((line) => {
      const [pid, title, root, fields] = line.split("|") as [string, string, string, string];
      const field = (name: string) => fields.split(";").find((f) => f.startsWith(`${name}:`))!.slice(name.length + 1).trim();
      const cap = (name: string) => BigInt(`0x${field(name)}`);
      return { pid: Number(pid), title: title.trim(), root, uid: Number(field("Uid").split(/\s+/)[0]), capInh: cap("CapInh"), capPrm: cap("CapPrm"), capEff: cap("CapEff"), capBnd: cap("CapBnd"), capAmb: cap("CapAmb") };
    });
}

/** linux/capability.h's numbers of the capabilities fos1 starts dhcpcd with. */
const CAP_NUMBERS: Record<string, number> = { setgid: 6, setuid: 7, net_bind_service: 10, net_admin: 12, net_raw: 13, sys_chroot: 18 };

/** DHCPCD_CAPABILITIES as the capability mask /proc/PID/status prints. */
export const DHCPCD_CAPS = DHCPCD_CAPABILITIES.reduce((m, c) => m | (1n << BigInt(CAP_NUMBERS[c]!)), 0n);
