// dhcpcd's processes in a lab VM as /proc shows them, to check its privilege separation: which
// run as root, which as the dhcpcd user, with which capabilities, chrooted where. Shared by the
// DHCP client's lab test and the extension's boot.
import type { LabVm } from "../../hack/lab/vm";

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
