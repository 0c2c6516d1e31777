// Lab boot benchmark (run by hack/bench/run.ts): one VM alone versus router + peer in
// parallel, interleaved, written to bench/lab-boot.md.
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { Lab, standardLab } from "../lab/vm";
import { median } from "./stats";

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const out = resolve(import.meta.dir, "../../bench/lab-boot.md");

interface Sample { wallMs: number; guestS: number }

async function bootOnce(pair: boolean): Promise<Sample[]> {
  const { vms, cables } = standardLab();
  const lab = await Lab.boot(pair ? vms : vms.slice(0, 1), pair ? cables : []);
  const samples = [...lab.vms.values()].map((vm) => ({ wallMs: vm.bootMs, guestS: vm.guestReadyAt }));
  await lab.shutdown();
  return samples;
}

const single: Sample[] = [];
const pair: Sample[] = [];
for (let i = 0; i < rounds; i++) {
  // Interleaved so drift in the machine's load hits both variants alike.
  single.push(...(await bootOnce(false)));
  pair.push(...(await bootOnce(true)));
}

const row = (name: string, s: Sample[]) =>
  `| ${name} | ${s.length} | ${median(s.map((x) => x.wallMs))} | ${median(s.map((x) => x.guestS)).toFixed(2)} |`;
const ratio = median(pair.map((x) => x.wallMs)) / median(single.map((x) => x.wallMs));
const report = `# Lab boot time

From starting qemu to the VM's control agent answering (a shell ready for commands), with the
lab image of \`make lab-image\` (${new Date().toISOString().slice(0, 10)}, ${rounds} rounds, interleaved).
TCG, \`-cpu max\`, 2 host cores. Wall time is on the host; guest uptime is the kernel's own clock.

| variant | VM boots | median wall ms | median guest uptime s |
| --- | --- | --- | --- |
${row("one VM alone", single)}
${row("router + peer in parallel", pair)}

Two VMs in parallel take ${ratio.toFixed(2)}× the wall time of one alone (2 cores for 2 TCG guests).
The issue's bound is 20 s per VM.
`;
writeFileSync(out, report);
console.log(report);
