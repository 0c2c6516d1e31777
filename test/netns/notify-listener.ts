// What a service manager does with NOTIFY_SOCKET: a unix datagram socket bound at an address
// (a path, or "@name" in the abstract namespace, which belongs to a network namespace), and
// every datagram received on it. Python's socket module does the binding: an implementation
// of the protocol independent of the one under test.
import type { Subprocess } from "bun";
import { waitUntil, type Netns } from "../helpers/netns";

const LISTENER = `
import json, socket, sys
address = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\\0" + address[1:] if address.startswith("@") else address)
print("bound", flush=True)
while True:
    print(json.dumps(s.recv(65536).decode()), flush=True)
`;

export class NotifyListener {
  /** Each datagram received, as sent. */
  readonly messages: string[] = [];
  private bound = false;
  private readonly proc: Subprocess<"ignore", "pipe", "pipe">;

  private constructor(ns: Netns, readonly address: string) {
    this.proc = Bun.spawn(ns.argv(["python3", "-c", LISTENER, address]), { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    void this.read();
  }

  /** Listens at address (in ns) and resolves once the socket is bound. */
  static async start(ns: Netns, address: string): Promise<NotifyListener> {
    const l = new NotifyListener(ns, address);
    await waitUntil(`the notify socket ${address} bound`, () => l.bound || l.proc.exitCode !== null, 10_000);
    if (!l.bound) throw new Error(`the notify listener exited (${l.proc.exitCode}): ${await new Response(l.proc.stderr).text()}`);
    return l;
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** The first datagram holding the line want ("READY=1"), waited for. */
  async waitForLine(want: string, timeoutMs = 15_000): Promise<string> {
    const find = () => this.messages.find((m) => m.split("\n").includes(want));
    await waitUntil(`a notification with ${want}`, () => find() !== undefined, timeoutMs, () => this.messages);
    return find()!;
  }

  async close(): Promise<void> {
    this.proc.kill("SIGKILL");
    await this.proc.exited;
  }

  private async read(): Promise<void> {
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of this.proc.stdout) {
      buf += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === "bound") this.bound = true;
        else this.messages.push(JSON.parse(line) as string);
      }
    }
  }
}
