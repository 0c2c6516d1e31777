// Runs fos1's DHCP supervisor (src/engine/dhcp) inside a lab VM, as the agent will: bundled by
// test/lab/dhcp.test.ts and run by the VM's own fos1 executable as a Bun runtime
// (BUN_BE_BUN=1), so the VM runs the real module on the real Bun.
//
//   dhcp-client.js SPEC.json STATE_DIR
//
// Converges to the specs in SPEC.json at start and again on SIGHUP (re-reading the file);
// after each converge writes STATE_DIR/converged (a counter, or "error: …"). Writes status()
// to STATE_DIR/status.json every second. SIGTERM stops the supervisor, then exits.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DhcpSupervisor, type DhcpClientSpec } from "../../src/engine/dhcp";
import { Logger } from "../../src/base/log";

const [specFile, stateDir] = process.argv.slice(2);
if (!specFile || !stateDir) {
  console.error("usage: dhcp-client SPEC.json STATE_DIR");
  process.exit(2);
}

const supervisor = new DhcpSupervisor({ stateDir, log: new Logger(), backoff: { initialMs: 1000, maxMs: 8000 } });
const put = (name: string, text: string) => {
  writeFileSync(join(stateDir, `${name}.tmp`), text);
  renameSync(join(stateDir, `${name}.tmp`), join(stateDir, name));
};

let converges = 0;
async function converge() {
  try {
    await supervisor.converge(JSON.parse(readFileSync(specFile!, "utf8")) as DhcpClientSpec[]);
    put("converged", String(++converges));
  } catch (err) {
    put("converged", `error: ${(err as Error).message}`);
  }
}

let busy = Promise.resolve();
process.on("SIGHUP", () => void (busy = busy.then(converge)));
process.on("SIGTERM", () => {
  void busy.then(async () => {
    await supervisor.stop();
    process.exit(0);
  });
});

busy = busy.then(converge);
setInterval(() => {
  supervisor.status().then(
    (s) => put("status.json", JSON.stringify({ pid: supervisor.pid ?? null, uplinks: s })),
    (err: unknown) => put("status.json", JSON.stringify({ error: (err as Error).message })),
  );
}, 1000);
