import type { Command } from "../command";
import { printResult } from "../output";
import { versionInfo } from "../version-info";

export const version: Command = {
  name: "version",
  summary: "print fos1's version, git commit, Bun version and the libbpf found",
  usage: "fos1 version [-o json]",
  printsState: true,
  run(ctx) {
    const v = versionInfo();
    printResult(ctx, v, () =>
      [
        `fos1     ${v.version}`,
        `commit   ${v.commit}`,
        `bun      ${v.bun}`,
        `libbpf   ${v.libbpf ?? "not found"}`,
      ].join("\n") + "\n",
    );
    return 0;
  },
};
