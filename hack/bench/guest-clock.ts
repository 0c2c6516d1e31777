// Timing a command inside a lab VM on the guest's own clock (TCG makes the host's clock around
// the control channel meaningless), after the guest has gone quiet.
import type { LabVm } from "../lab/vm";

// Guest nanoseconds without starting a process: /proc/timer_list's third line is "now at N nsecs".
const stamp = (v: string) => `{ read -r _; read -r _; read -r _ _ ${v} _; } </proc/timer_list`;

// Links coming up leave the kernel IPv6 DAD and MLD timers to run for seconds afterwards; wait
// until the guest CPU was ≥ 90% idle for half a second (at most 30 s) so they do not land in the
// next measurement.
const SETTLE = `
pi=0; pt=0; k=0
while [ $k -lt 60 ]; do
  read -r _ a b c d e f g h _ </proc/stat
  t=$((a + b + c + d + e + f + g + h))
  if [ $pt -gt 0 ] && [ $(((d - pi) * 100)) -ge $(((t - pt) * 90)) ]; then break; fi
  pi=$d; pt=$t; k=$((k + 1)); sleep 0.5
done`;

/**
 * Runs command between two guest clock readings, its output in /tmp/out and /tmp/err; the
 * seconds it took. A non-zero exit throws with the tail of its stderr.
 */
export async function timeOnGuest(vm: LabVm, command: string, timeoutSec: number): Promise<number> {
  const script = `${SETTLE}\n${stamp("t0")}\n${command} >/tmp/out 2>/tmp/err\nrc=$?\n${stamp("t1")}\necho "$rc $((t1 - t0))"`;
  const [rc, ns] = (await vm.runOk(script, { timeoutSec })).trim().split(" ").map(Number) as [number, number];
  if (rc !== 0) throw new Error(`exit code ${rc}: ${command}\n${await vm.runOk("tail -c 2000 /tmp/err")}`);
  return ns / 1e9;
}
