// make bench: runs the benchmarks named on the command line (default: all, in this order),
// each writing its results under bench/. This machine is shared and noisy, so each benchmark
// runs its variants side by side in one run and reports ratios.
const benchmarks = ["lab-boot", "vlans", "noop-host", "previous", "firewall", "xdp", "xdp-differential", "translate", "lan"];

const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !benchmarks.includes(name));
if (unknown.length) {
  console.error(`unknown benchmark ${unknown.join(", ")}; known: ${benchmarks.join(", ")}`);
  process.exit(2);
}
// Each benchmark does its work when imported; one at a time, so they never share the cores.
for (const name of asked.length ? asked : benchmarks) await import(`./${name}.ts`);

export {};
