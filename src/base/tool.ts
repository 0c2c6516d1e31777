// Runs the kernel's own tools (ip, nft, …) as child processes and turns their failures into
// messages a network operator can act on. Every caller batches: one process per transaction.
import { OperationError } from "./errors";

export interface ToolResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface ToolCall {
  /** What the operator would call this step, e.g. "read interfaces". */
  purpose: string;
  argv: string[];
  stdin?: string;
}

export async function runTool({ purpose, argv, stdin }: ToolCall): Promise<ToolResult> {
  let proc;
  try {
    proc = Bun.spawn(argv, {
      stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
      stdout: "pipe",
      stderr: "pipe",
    });
  } catch (err) {
    throw new OperationError(`cannot ${purpose}: ${argv[0]} could not be started (${(err as Error).message}); is it installed and on PATH?`);
  }
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, exitCode };
}

/** Like runTool, but a non-zero exit becomes an OperationError naming the step. */
export async function runToolOk(call: ToolCall): Promise<string> {
  const r = await runTool(call);
  if (r.exitCode !== 0) throw new OperationError(`cannot ${call.purpose}: ${explainToolError(call.argv[0] ?? "", r.stderr)}`);
  return r.stdout;
}

/** Rewrites the kernel's terse errno texts into what the operator should check. */
export function explainToolError(tool: string, stderr: string): string {
  const text = stderr.trim().split("\n").filter(Boolean).join("; ") || "failed without a message";
  if (/Operation not permitted/i.test(text)) return `${tool}: ${text} — fos1 must run as root (CAP_NET_ADMIN)`;
  if (/Cannot find device|does not exist/i.test(text)) return `${tool}: ${text} — the interface is not present on this host`;
  return `${tool}: ${text}`;
}
