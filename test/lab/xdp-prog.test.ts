// The BPF_PROG_TEST_RUN suite of xdp_filter.c (test/netns/xdp-prog.test.ts) once more, inside
// a lab VM: on Debian's kernel (6.1 when this was written) -- with its older verifier and
// bpf_loop -- rather than this machine's. The suite is bundled and run by the image's
// own fos1 as a Bun runtime (BUN_BE_BUN=1), with dist/bpf/xdp_filter.o copied in where the
// suite looks for it. One VM, no cables.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { release } from "node:os";
import { join, resolve } from "node:path";
import { Lab, type LabVm } from "../../hack/lab/vm";

const repo = resolve(import.meta.dir, "../..");
const SUITE = "/lab/xdp-prog.test.js";

let lab: Lab;
let vm: LabVm;

beforeAll(async () => {
  const bundle = await Bun.build({ entrypoints: [join(repo, "test/netns/xdp-prog.test.ts")], target: "bun", external: ["bun:test"] });
  if (!bundle.success) throw new Error(`cannot bundle xdp-prog.test.ts: ${bundle.logs.join("\n")}`);
  lab = await Lab.boot([{ name: "router", nics: 1 }], []);
  vm = lab.vm("router");
  await vm.put(SUITE, await bundle.outputs[0]!.text());
  // The bundle looks for the object at <its dir>/../../dist/bpf, as the suite does in the repo.
  await vm.put("/dist/bpf/xdp_filter.o", new Uint8Array(await Bun.file(join(repo, "dist/bpf/xdp_filter.o")).arrayBuffer()));
}, 240_000);

afterAll(async () => {
  await lab?.shutdown();
});

test("every parse path and verdict of the filter holds on the lab's kernel", async () => {
  const r = await vm.run(`uname -r; cd /lab && BUN_BE_BUN=1 fos1 test --timeout 600000 ${SUITE} 2>&1`, { timeoutSec: 1500 });
  const out = r.stdout + r.stderr;
  const kernel = out.split("\n")[0]!;
  const passed = /^ *(\d+) pass$/m.exec(out)?.[1];
  const failed = /^ *(\d+) fail$/m.exec(out)?.[1];
  console.log(`kernel ${kernel}: ${passed} pass, ${failed} fail`);
  expect(kernel).not.toBe(release()); // the lab's kernel, not this machine's
  expect({ exitCode: r.exitCode, failed, tail: failed === "0" ? "" : out.slice(-6000) }).toEqual({ exitCode: 0, failed: "0", tail: "" });
  expect(Number(passed)).toBeGreaterThan(0);
}, 1_600_000);
