// The steps of the XDP benchmark (hack/bench/xdp.ts) that need a network namespace's
// interfaces; xdp.ts runs this under `nsenter --net=…`, which keeps the mount namespace and so
// bpffs (`ip netns exec` would remount /sys). Prints one line of JSON; `generate` prints
// {"sending":true} first, once frames are going out.
//   attach IFNAME PROG_PIN NAME   attach the pinned program in native mode (fos1's attachXdp)
//   detach IFNAME NAME
//   generate OBJECT TARGET LOOP_A LOOP_B SEED_TO FRAME_FILE SOURCES_FILE SECONDS
//                                 (hack/bench/xdp-generator.ts)
import { readFileSync } from "node:fs";
import { closeProgram, openPinnedProgram } from "../../src/bpf/pins";
import { attachXdp, detachXdp } from "../../src/bpf/xdp";
import { generate } from "./xdp-generator";

const [cmd, ...args] = process.argv.slice(2);
const say = (x: unknown) => process.stdout.write(JSON.stringify(x) + "\n");

try {
  if (cmd === "attach" && args.length === 3) {
    const [ifname, pin, name] = args as [string, string, string];
    const prog = openPinnedProgram(pin, name);
    try {
      say(attachXdp(ifname, prog, "native"));
    } finally {
      closeProgram(prog);
    }
  } else if (cmd === "detach" && args.length === 2) {
    say({ detached: detachXdp(args[0]!, args[1]!) });
  } else if (cmd === "generate" && args.length === 8) {
    const [object, target, loopA, loopB, seedTo, frameFile, sourcesFile, seconds] = args as [string, string, string, string, string, string, string, string];
    say(await generate(object, { target, loopA, loopB, seedTo }, readFileSync(frameFile), readFileSync(sourcesFile), Number(seconds), () => say({ sending: true })));
  } else {
    throw new Error(`usage: attach IFNAME PROG_PIN NAME | detach IFNAME NAME | generate OBJECT TARGET LOOP_A LOOP_B SEED_TO FRAME_FILE SOURCES_FILE SECONDS (got ${process.argv.slice(2).join(" ")})`);
  }
} catch (err) {
  say({ error: (err as Error).message });
  process.exit(1);
}
