import type { Command } from "../command";
import defaultConfig from "../../api/default-config.yaml" with { type: "text" };

export const defaults: Command = {
  name: "defaults",
  summary: "print the default configuration fos1 ships with (a 4-port router), to start from",
  usage: "fos1 defaults",
  printsState: false,
  run(ctx) {
    ctx.stdout(defaultConfig);
    return 0;
  },
};
