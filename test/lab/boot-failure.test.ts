// The harness must say clearly when a VM never comes up, and show why.
import { expect, test } from "bun:test";
import { Lab, LabError } from "../../hack/lab/vm";

test("a VM that never boots is a timeout that shows its last console lines", async () => {
  // No init in the initramfs and nothing to mount: the kernel panics and (panic=0) hangs.
  const boot = Lab.boot([{ name: "broken", nics: 1, append: "rdinit=/nonexistent panic=0", bootTimeoutMs: 20_000 }], []);
  const err = await boot.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(LabError);
  const msg = (err as Error).message;
  expect(msg).toContain("VM broken: did not boot: timed out");
  expect(msg).toContain("last console lines of broken");
  expect(msg).toMatch(/Kernel panic|Failed to execute \/nonexistent/);
}, 60_000);

test("a VM whose qemu cannot start is reported at once with qemu's reason", async () => {
  const err = await Lab.boot([{ name: "toobig", nics: 1, memoryMiB: 100_000_000 }], []).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(LabError);
  expect((err as Error).message).toMatch(/VM toobig: did not boot: qemu exited \(code \d+\)/);
}, 60_000);
