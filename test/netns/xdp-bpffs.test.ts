// A node where nothing mounted bpffs at /sys/fs/bpf: fos1 mounts it (as Cilium's agent does)
// and the XDP filter works. fos1 runs in a mount namespace of its own with /sys/fs/bpf
// unmounted, so the host's bpffs is left alone; the pins go with that namespace, the attached
// program stays on f0 until the test takes it off. Root; run after make build.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { logMessages } from "../helpers/fos1";
import { destroyAll, fos1Argv, ipBatch, run } from "./netns";
import { ALLOWED4, BLOCKED4, FAR4, createXdpPair, edgeFilterConfig, pingOnceFrom, reachesFrom } from "./xdp-pair";

const repo = resolve(import.meta.dir, "../..");
const tmp = mkdtempSync(join(tmpdir(), "fos1-xdp-bpffs-"));
let src: string;
let far: string;

beforeAll(async () => {
  ({ src, far } = await createXdpPair());
  await ipBatch(far, ["link set lo up"]);
});

afterAll(async () => {
  await destroyAll();
  rmSync(tmp, { recursive: true, force: true });
});

const CONFIG = edgeFilterConfig(`blocklist: ["${BLOCKED4}/32"]`);

test("without bpffs at /sys/fs/bpf, fos1 apply mounts it there and the filter drops what it blocks", async () => {
  const file = join(tmp, "config.yaml");
  writeFileSync(file, CONFIG);
  // The shell proves bpffs is gone before fos1 runs, and that fos1 left one mounted after.
  const script = `umount -l /sys/fs/bpf 2>/dev/null || true
[ "$(stat -f -c %T /sys/fs/bpf)" != bpf_fs ] || { echo "bpffs still mounted" >&2; exit 9; }
nsenter --net=/run/netns/${far} "$@" || exit $?
echo "after: $(stat -f -c %T /sys/fs/bpf)"`;
  const r = await run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", ...fos1Argv(["apply", "-f", file, "--state-dir", join(tmp, "state"), "--force"])], {
    env: { FOS1_BPF_DIR: join(repo, "dist/bpf") },
  });
  try {
    expect({ exitCode: r.exitCode, log: logMessages(r) }).toEqual({ exitCode: 0, log: expect.any(String) });
    expect(r.stdout).toContain("after: bpf_fs");
    expect(await reachesFrom(src, ALLOWED4, FAR4)).toBe(true);
    expect(await pingOnceFrom(src, BLOCKED4, FAR4)).toBe(false);
  } finally {
    await run(["ip", "-n", far, "link", "set", "f0", "xdp", "off"]);
  }
}, 60_000);
