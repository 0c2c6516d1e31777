// Runs the fos1 CLI as a user would: the compiled executable when FOS1_BIN names it
// (hack/test-all does, after make build), otherwise the source through Bun.
import { resolve } from "node:path";

const repo = resolve(import.meta.dir, "../..");

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** The command that runs fos1: prefix it with `ip netns exec NS` to run it in a namespace. */
export function fos1Argv(): string[] {
  return process.env.FOS1_BIN ? [process.env.FOS1_BIN] : [process.execPath, resolve(repo, "src/main.ts")];
}

export async function fos1(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const proc = Bun.spawn([...fos1Argv(), ...args], {
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
    env: { ...process.env, ...env },
  });
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { exitCode, stdout, stderr };
}

/** The messages of the JSON log lines fos1 wrote on stderr (it is not a terminal in tests). */
export function logMessages(r: CliResult): string {
  return r.stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => (JSON.parse(l) as { msg: string }).msg)
    .join("\n");
}
