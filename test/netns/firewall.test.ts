// The firewall and NAT with real packets on this machine's kernel: fos1 applies a config in a
// "router" namespace whose NICs are veths to host namespaces — "wan" (the far side), "lan" (a
// client that is also the LAN's switch: a bridge with a port to the "srv" namespace, the LAN
// server) and "mgmt" (the operator) — and the hosts then try TCP, UDP and ICMP/ICMPv6 through
// it. What each client sees (connected, refused by RST, ICMP admin-prohibited, nothing) and
// the source address each server sees are the assertions. A stand-in for Talos's `inet talos`
// table lives beside fos1's and must come through every apply unchanged. Root is needed.
// Addresses: documentation ranges outside, fd00::/8 (ULA) inside; nothing leaves the namespaces.
//
//   wan 198.51.100.2-4     ──wan0┐                 ┌lan0── br0 [lan 192.0.2.10] ── srv 192.0.2.20
//       2001:db8:1::2-4         │     router      │        2001:db8:2::10           2001:db8:2::20
//                               │ .1 / ::1 each   │        fd00:2::10, fd00:3::10   fd00:3::20
//   mgmt 203.0.113.2      ──mgmt0┘                 └
//        2001:db8:9::2
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { logMessages } from "../helpers/fos1";
import { parseFirewallListing, type ObservedFirewall } from "../../src/engine/firewall/observe";
import { addVeth, createNs, destroyAll, dumpState, fos1In, ipBatch, nsRun, runOk, type RunResult } from "./netns";

const tmp = mkdtempSync(join(tmpdir(), "fos1-netns-firewall-"));
const PY = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const PROBE = join(tmp, "probe.py");

// ---------------------------------------------------------------------------------------------
// The probe: servers that answer with what they saw, and clients that say what they got.

const PROBE_PY = String.raw`
import errno, json, os, select, socket, struct, sys, time

def unmap(a):
    return a[7:] if a.startswith("::ffff:") else a

def serve(name, specs):
    socks = []
    for spec in specs:
        proto, port = spec.split("/")
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::", int(port)))
        if proto == "tcp":
            s.listen(16)
        else:  # answer from the address asked, not whichever the host would pick
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        socks.append((proto, int(port), s))
    print("ready", flush=True)
    while True:
        ready, _, _ = select.select([s for _, _, s in socks], [], [])
        for proto, port, s in socks:
            if s not in ready:
                continue
            if proto == "tcp":
                c, a = s.accept()
                c.sendall(json.dumps({"server": name, "port": port, "peer": unmap(a[0])}).encode() + b"\n")
                c.close()
            else:
                _, ancillary, _, a = s.recvmsg(2048, socket.CMSG_SPACE(20))
                info = [c for c in ancillary if c[:2] == (socket.IPPROTO_IPV6, socket.IPV6_PKTINFO)]
                s.sendmsg([json.dumps({"server": name, "port": port, "peer": unmap(a[0])}).encode()], info, 0, a)

ERRORS = {errno.ECONNREFUSED: "refused", errno.EHOSTUNREACH: "host-unreachable", errno.EACCES: "prohibited",
          errno.ENETUNREACH: "net-unreachable", errno.ETIMEDOUT: "timeout"}

def failure(e):
    return {"result": ERRORS.get(e.errno, errno.errorcode.get(e.errno, str(e.errno)))}

def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET

def tcp(host, port, src, timeout):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    if src:
        s.bind((src, 0))
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(1024)
            if not chunk:
                break
            data += chunk
        return {"result": "connected", "reply": json.loads(data)}
    except socket.timeout:
        return {"result": "timeout"}
    except OSError as e:
        return failure(e)

def udp(host, port, src, timeout):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    if src:
        s.bind((src, 0))
    s.settimeout(timeout)
    s.connect((host, port))
    try:
        s.send(b"probe")
        return {"result": "reply", "reply": json.loads(s.recv(2048))}
    except socket.timeout:
        return {"result": "timeout"}
    except OSError as e:
        return failure(e)

def checksum(b):
    if len(b) % 2:
        b += b"\0"
    total = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF

def ping(host, src, timeout):
    v6 = ":" in host
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6) if v6 else socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    if src:
        s.bind((src, 0))
    ident, seq, request = os.getpid() & 0xFFFF, 1, 128 if v6 else 8
    body = b"fos1-probe"
    header = struct.pack("!BBHHH", request, 0, 0, ident, seq)
    if not v6:  # the kernel fills in ICMPv6 checksums itself
        header = struct.pack("!BBHHH", request, 0, checksum(header + body), ident, seq)
    s.sendto(header + body, (host, 0))
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([s], [], [], left)[0]:
            return {"result": "timeout"}
        data, addr = s.recvfrom(4096)
        icmp = data if v6 else data[(data[0] & 0xF) * 4:]
        kind, code = icmp[0], icmp[1]
        if kind == (129 if v6 else 0):
            if struct.unpack("!HH", icmp[4:8]) == (ident, seq):
                return {"result": "reply", "from": addr[0]}
            continue
        inner = icmp[8:]
        original = inner[40:] if v6 else inner[(inner[0] & 0xF) * 4:] if inner else b""
        if len(original) >= 8 and original[0] == request and struct.unpack("!HH", original[4:8]) == (ident, seq):
            prohibited = (kind, code) == ((1, 1) if v6 else (3, 13))
            return {"result": "admin-prohibited" if prohibited else "icmp-error", "type": kind, "code": code, "from": addr[0]}

def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "serve":
        serve(args[0], args[1:])
        return
    where = [a for a in args if "=" not in a]
    opts = dict(a.split("=", 1) for a in args if "=" in a)
    src, timeout = opts.get("from"), float(opts.get("timeout", "2"))
    if cmd == "tcp":
        out = tcp(where[0], int(where[1]), src, timeout)
    elif cmd == "udp":
        out = udp(where[0], int(where[1]), src, timeout)
    else:
        out = ping(where[0], src, timeout)
    print(json.dumps(out), flush=True)

main()
`;

interface Reply {
  server: string;
  port: number;
  peer: string;
}
interface Outcome {
  result: string;
  reply?: Reply;
  type?: number;
  code?: number;
  from?: string;
}

/** How long a flow that must fail is given to fail (it is a drop when nothing comes back). */
const DENIED_WAIT = 1.5;

async function probe(ns: string, args: string[]): Promise<Outcome> {
  // `timeout` bounds the probe even if a socket timeout were missed.
  const r = await nsRun(ns, ["timeout", "15", PY, PROBE, ...args]);
  if (r.exitCode !== 0) throw new Error(`probe ${args.join(" ")} in ${ns} exited ${r.exitCode}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Outcome;
}

/** A flow that should work is tried up to `tries` times (the first packet may wait for ND/ARP);
 *  one that should not is tried once and given DENIED_WAIT seconds. */
async function attempt(ns: string, args: string[], want: "success" | "failure", tries = 3): Promise<Outcome> {
  let last: Outcome = { result: "never tried" };
  for (let i = 0; i < (want === "success" ? tries : 1); i++) {
    last = await probe(ns, [...args, `timeout=${want === "success" ? 2 : DENIED_WAIT}`]);
    if (["connected", "reply"].includes(last.result)) break;
  }
  return last;
}

const tcp = (ns: string, host: string, port: number, opts: { from?: string; want?: "success" | "failure" } = {}) =>
  attempt(ns, ["tcp", host, String(port), ...(opts.from ? [`from=${opts.from}`] : [])], opts.want ?? "success");
const udp = (ns: string, host: string, port: number, opts: { from?: string; want?: "success" | "failure" } = {}) =>
  attempt(ns, ["udp", host, String(port), ...(opts.from ? [`from=${opts.from}`] : [])], opts.want ?? "success");
const ping = (ns: string, host: string, opts: { from?: string; want?: "success" | "failure" } = {}) =>
  attempt(ns, ["ping", host, ...(opts.from ? [`from=${opts.from}`] : [])], opts.want ?? "success");

// ---------------------------------------------------------------------------------------------
// The config

const net = (kind: string, name: string, spec: string) => `apiVersion: network.fos1.io/v1alpha1\nkind: ${kind}\nmetadata:\n  name: ${name}\nspec:\n${spec.replace(/^/gm, "  ")}\n`;
const sec = (kind: string, name: string, spec: string) => net(kind, name, spec).replace("network.fos1.io", "security.fos1.io");
const rule = (name: string, spec: string) => sec("FirewallRule", name, spec);

const INTERFACES = [
  net("NetworkInterface", "wan", "type: physical\ndevice: wan0\naddresses: [198.51.100.1/24, '2001:db8:1::1/64']"),
  net("NetworkInterface", "lan", "type: physical\ndevice: lan0\naddresses: [192.0.2.1/24, '2001:db8:2::1/64', 'fd00:2::1/64', 'fd00:3::1/64']"),
  net("NetworkInterface", "mgmt", "type: physical\ndevice: mgmt0\naddresses: [203.0.113.1/24, '2001:db8:9::1/64']"),
];
const ZONES = [
  sec("FirewallZone", "wan", "interfaces: [wan]"),
  sec("FirewallZone", "lan", "interfaces: [lan]"),
  sec("FirewallZone", "mgmt", "interfaces: [mgmt]\nmanagement: true"),
];
const RULES = [
  rule("web-out", "fromZone: lan\ntoZone: wan\nprotocol: tcp\nports: [80, 8000-8100]\naction: allow"),
  rule("refuse-81", "fromZone: lan\ntoZone: wan\nprotocol: tcp\nports: [81]\naction: reject"),
  rule("drop-82", "fromZone: lan\ntoZone: wan\nprotocol: tcp\nports: [82]\naction: deny"),
  rule("dns-out", "fromZone: lan\ntoZone: wan\nprotocol: udp\nports: [53]\naction: allow"),
  rule("refuse-udp-55", "fromZone: lan\ntoZone: wan\nprotocol: udp\nports: [55]\naction: reject"),
  rule("ping-ok", "fromZone: lan\ntoZone: wan\nprotocol: icmp\ndestinations: [198.51.100.2/32]\naction: allow"),
  rule("ping-refused", "fromZone: lan\ntoZone: wan\nprotocol: icmp\ndestinations: [198.51.100.3/32]\naction: reject"),
  rule("ping6-ok", "fromZone: lan\ntoZone: wan\nprotocol: icmpv6\ndestinations: ['2001:db8:1::2/128']\naction: allow"),
  rule("ping6-refused", "fromZone: lan\ntoZone: wan\nprotocol: icmpv6\ndestinations: ['2001:db8:1::3/128']\naction: reject"),
  rule("lan-ping6-router", "fromZone: lan\ntoZone: host\nprotocol: icmpv6\naction: allow"),
  rule("mgmt-no-host", "fromZone: mgmt\ntoZone: host\naction: deny"),
  rule("ssh-in", "fromZone: wan\ntoZone: lan\nprotocol: tcp\nports: [22]\ndestinations: ['fd00:3::20/128']\naction: allow"),
];
const NAT = [
  net("NATPolicy", "masq", "type: masquerade\ninterface: wan\nsources: [192.0.2.0/24]"),
  net("NATPolicy", "nat66", "type: masquerade\ninterface: wan\nipv6: true\nsources: ['fd00:2::/64']"),
  net("NATPolicy", "npt", "type: nptv6\ninterface: wan\ninternalPrefix: 'fd00:3::/64'\nexternalPrefix: '2001:db8:3::/64'"),
  net("NATPolicy", "forwards", "type: dnat\ninterface: wan\nforwards:\n  - {protocol: tcp, port: 8080, to: 192.0.2.20, toPort: 80}\n  - {protocol: udp, port: 6000-6003, to: 192.0.2.20, toPort: 7000}"),
];
const yaml = (...docs: string[][]) => docs.flat().join("---\n");
const ROUTER = yaml(INTERFACES, ZONES, RULES, NAT);

// ---------------------------------------------------------------------------------------------
// The namespaces, built once; every test applies the config it needs first.

let router = "", wan = "", lan = "", srv = "", mgmt = "";
let stateDir = "";
const servers: Subprocess[] = [];
let fileCount = 0;

async function configFile(text: string, name: string): Promise<string> {
  const path = join(tmp, `${++fileCount}-${name}.yaml`);
  await Bun.write(path, text);
  return path;
}

async function startServer(ns: string, name: string, specs: string[]): Promise<void> {
  const p = Bun.spawn(["ip", "netns", "exec", ns, PY, PROBE, "serve", name, ...specs], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  servers.push(p);
  const reader = p.stdout.getReader();
  const first = await Promise.race([reader.read(), Bun.sleep(10_000).then(() => null)]);
  reader.releaseLock();
  if (!first || first.done || !new TextDecoder().decode(first.value).startsWith("ready"))
    throw new Error(`the ${name} server in ${ns} did not start: ${await new Response(p.stderr).text()}`);
}

/** The talos stand-in: Talos's table (FACTS.md: chain ingress, hook input, priority mangle+10). */
const TALOS = `table inet talos {
  chain ingress {
    type filter hook input priority mangle + 10; policy accept;
    ct state established,related accept
    tcp dport 50000 counter accept
  }
  chain prerouting {
    type filter hook prerouting priority mangle + 10; policy accept;
    iifname "lo" accept
  }
}
`;
let talosBefore = "";
const talos = async () => runOk(["ip", "netns", "exec", router, "nft", "-a", "-s", "list", "table", "inet", "talos"]);
const ruleset = async () => runOk(["ip", "netns", "exec", router, "nft", "-a", "-s", "list", "ruleset"]);
const nft = (...args: string[]) => runOk(["ip", "netns", "exec", router, "nft", ...args]);

beforeAll(async () => {
  await Bun.write(PROBE, PROBE_PY);
  router = await createNs("router");
  wan = await createNs("wan");
  lan = await createNs("lan");
  srv = await createNs("srv");
  mgmt = await createNs("mgmt");
  stateDir = mkdtempSync(join(tmp, "state-"));
  await addVeth(router, "wan0", wan, "eth0");
  await addVeth(router, "lan0", lan, "eth0");
  await addVeth(router, "mgmt0", mgmt, "eth0");
  await addVeth(lan, "srv0", srv, "eth0");
  await ipBatch(router, ["link set lo up"]);
  await ipBatch(wan, [
    "link set lo up",
    "link set eth0 up",
    "address add 198.51.100.2/24 dev eth0",
    "address add 198.51.100.3/24 dev eth0",
    "address add 198.51.100.4/24 dev eth0",
    "address add 2001:db8:1::2/64 dev eth0 nodad",
    "address add 2001:db8:1::3/64 dev eth0 nodad",
    "address add 2001:db8:1::4/64 dev eth0 nodad",
    "route add default via 198.51.100.1",
    "route add default via 2001:db8:1::1",
  ]);
  await ipBatch(lan, [
    "link set lo up",
    "link add br0 type bridge forward_delay 0 stp_state 0",
    "link set eth0 master br0",
    "link set srv0 master br0",
    "link set eth0 up",
    "link set srv0 up",
    "link set br0 up",
    "address add 192.0.2.10/24 dev br0",
    "address add 2001:db8:2::10/64 dev br0 nodad",
    "address add fd00:2::10/64 dev br0 nodad",
    "address add fd00:3::10/64 dev br0 nodad",
    "route add default via 192.0.2.1",
    "route add default via 2001:db8:2::1",
  ]);
  await ipBatch(srv, [
    "link set lo up",
    "link set eth0 up",
    "address add 192.0.2.20/24 dev eth0",
    "address add 2001:db8:2::20/64 dev eth0 nodad",
    "address add fd00:3::20/64 dev eth0 nodad",
    "route add default via 192.0.2.1",
    "route add default via 2001:db8:2::1",
  ]);
  await ipBatch(mgmt, [
    "link set lo up",
    "link set eth0 up",
    "address add 203.0.113.2/24 dev eth0",
    "address add 2001:db8:9::2/64 dev eth0 nodad",
    "route add default via 203.0.113.1",
    "route add default via 2001:db8:9::1",
  ]);
  // Talos's table is there before fos1 ever runs.
  await runOk(["ip", "netns", "exec", router, "nft", "-f", "-"], { stdin: TALOS });
  talosBefore = await talos();
  await Promise.all([
    startServer(wan, "wan", ["tcp/80", "tcp/81", "tcp/82", "tcp/83", "tcp/8050", "udp/53", "udp/54", "udp/55"]),
    startServer(srv, "srv", ["tcp/80", "tcp/22", "tcp/23", "udp/7000", "udp/7001", "udp/7002", "udp/7003"]),
    startServer(router, "router", ["tcp/50000", "tcp/2222"]),
  ]);
}, 60_000);

afterAll(async () => {
  for (const p of servers) p.kill("SIGKILL");
  await Promise.all(servers.map((p) => p.exited));
  await destroyAll();
  rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// fos1

interface ApplyJson {
  writes: number;
  processes: number;
  failed: { op: { subject: string }; error: string }[];
  unconverged: { subject: string }[];
  converged: boolean;
  ops: { phase: string; action: string; subject: string; detail?: string }[];
}

async function apply(file: string, extra: string[] = []): Promise<RunResult> {
  return fos1In(router, ["apply", "-f", file, "--state-dir", stateDir, "-o", "json", ...extra]);
}

async function applyOk(file: string, extra: string[] = []): Promise<ApplyJson> {
  const r = await apply(file, extra);
  if (r.exitCode !== 0) throw new Error(`apply exited ${r.exitCode}: ${logMessages(r)}\n${r.stdout}`);
  const out = JSON.parse(r.stdout) as ApplyJson;
  expect({ failed: out.failed, unconverged: out.unconverged, converged: out.converged }).toEqual({ failed: [], unconverged: [], converged: true });
  return out;
}

let routerFile = "";
async function applyRouter(): Promise<ApplyJson> {
  routerFile ||= await configFile(ROUTER, "router");
  return applyOk(routerFile);
}

// ---------------------------------------------------------------------------------------------

describe("applying the firewall", () => {
  test("the first apply loads fos1's table in one transaction; the second writes nothing", async () => {
    const first = await applyRouter();
    expect(first.ops.filter((o) => o.phase === "firewall").map((o) => `${o.action} ${o.subject}`)).toEqual(["add nftables table inet fos1"]);
    const tables = await nft("list", "tables");
    expect(tables.split("\n").filter(Boolean).sort()).toEqual(["table inet fos1", "table inet talos"]);

    const again = await applyRouter();
    expect({ writes: again.writes, processes: again.processes, ops: again.ops }).toEqual({ writes: 0, processes: 0, ops: [] });
  }, 60_000);

  test("a zone member matched by MAC that is not on the host degrades that NIC only; the firewall is enforced", async () => {
    const ghost = net("NetworkInterface", "ghost", "type: physical\nmac: '52:54:00:00:99:01'\naddresses: [198.18.0.1/24]");
    const zones = ZONES.map((z) => z.replace("interfaces: [mgmt]", "interfaces: [mgmt, ghost]"));
    const r = await apply(await configFile(yaml(INTERFACES, [ghost], zones, RULES, NAT), "ghost"));
    if (!r.stdout) throw new Error(`apply exited ${r.exitCode}: ${logMessages(r)}`);
    const out = JSON.parse(r.stdout) as ApplyJson & { degraded: { ref: string }[] };
    expect({ exitCode: r.exitCode, failed: out.failed, converged: out.converged, degraded: out.degraded.map((d) => d.ref) }).toEqual({
      exitCode: 0,
      failed: [],
      converged: true,
      degraded: ["NetworkInterface/ghost"],
    });
    expect(await tcp(mgmt, "203.0.113.1", 50000)).toMatchObject({ result: "connected" });
    expect(await tcp(wan, "198.51.100.1", 50000, { want: "failure" })).toEqual({ result: "timeout" });
    await applyRouter();
  }, 60_000);
});

describe("filtering: what each client sees", () => {
  beforeAll(applyRouter, 60_000);

  test("TCP lan → wan: allowed ports connect; a deny rule and the default drop time out; a reject rule answers with RST", async () => {
    for (const [host, from] of [["198.51.100.2", "192.0.2.10"], ["2001:db8:1::2", "2001:db8:2::10"]] as const) {
      expect(await tcp(lan, host, 80, { from })).toMatchObject({ result: "connected", reply: { server: "wan", port: 80 } });
      expect(await tcp(lan, host, 8050, { from })).toMatchObject({ result: "connected", reply: { server: "wan", port: 8050 } });
      expect(await tcp(lan, host, 81, { from, want: "failure" })).toEqual({ result: "refused" });
      expect(await tcp(lan, host, 82, { from, want: "failure" })).toEqual({ result: "timeout" });
      expect(await tcp(lan, host, 83, { from, want: "failure" })).toEqual({ result: "timeout" });
    }
  }, 60_000);

  test("UDP lan → wan: allowed gets the answer; not allowed is dropped; a reject rule answers ICMP admin-prohibited", async () => {
    expect(await udp(lan, "198.51.100.2", 53, { from: "192.0.2.10" })).toMatchObject({ result: "reply", reply: { server: "wan", port: 53 } });
    expect(await udp(lan, "2001:db8:1::2", 53, { from: "2001:db8:2::10" })).toMatchObject({ result: "reply", reply: { server: "wan", port: 53 } });
    expect(await udp(lan, "198.51.100.2", 54, { from: "192.0.2.10", want: "failure" })).toEqual({ result: "timeout" });
    expect(await udp(lan, "2001:db8:1::2", 54, { from: "2001:db8:2::10", want: "failure" })).toEqual({ result: "timeout" });
    // The socket layer's names for ICMP admin-prohibited: EHOSTUNREACH (IPv4), EACCES (IPv6).
    expect(await udp(lan, "198.51.100.2", 55, { from: "192.0.2.10", want: "failure" })).toEqual({ result: "host-unreachable" });
    expect(await udp(lan, "2001:db8:1::2", 55, { from: "2001:db8:2::10", want: "failure" })).toEqual({ result: "prohibited" });
  }, 60_000);

  test("ICMP and ICMPv6 echo per rule: allowed gets the reply, reject gets admin-prohibited from the router, the rest nothing", async () => {
    expect(await ping(lan, "198.51.100.2", { from: "192.0.2.10" })).toMatchObject({ result: "reply", from: "198.51.100.2" });
    expect(await ping(lan, "198.51.100.3", { from: "192.0.2.10", want: "failure" })).toMatchObject({ result: "admin-prohibited", type: 3, code: 13 });
    expect(await ping(lan, "198.51.100.4", { from: "192.0.2.10", want: "failure" })).toEqual({ result: "timeout" });
    expect(await ping(lan, "2001:db8:1::2", { from: "2001:db8:2::10" })).toMatchObject({ result: "reply", from: "2001:db8:1::2" });
    expect(await ping(lan, "2001:db8:1::3", { from: "2001:db8:2::10", want: "failure" })).toMatchObject({ result: "admin-prohibited", type: 1, code: 1 });
    expect(await ping(lan, "2001:db8:1::4", { from: "2001:db8:2::10", want: "failure" })).toEqual({ result: "timeout" });
  }, 60_000);

  test("IPv6 neighbour discovery keeps working under default deny: with every neighbour cache flushed, v6 pings to allowed destinations succeed", async () => {
    for (const ns of [router, lan, wan]) await nsRun(ns, ["ip", "-6", "neigh", "flush", "all"]);
    const reachable = JSON.parse(await runOk(["ip", "-n", router, "-j", "-6", "neigh", "show", "nud", "reachable"])) as unknown[];
    expect(reachable).toEqual([]);
    // Through the router (ND on both of its legs), and to the router itself (lan → host allows icmpv6).
    expect(await ping(lan, "2001:db8:1::2", { from: "2001:db8:2::10" })).toMatchObject({ result: "reply" });
    expect(await ping(lan, "2001:db8:2::1", { from: "2001:db8:2::10" })).toMatchObject({ result: "reply", from: "2001:db8:2::1" });
    // The wan zone has no such rule: its echo requests to the router go unanswered, though ND with it works.
    expect(await ping(wan, "2001:db8:1::1", { want: "failure" })).toEqual({ result: "timeout" });
  }, 60_000);

  test("wan → lan is dropped by default: a LAN server's open port times out when reached directly", async () => {
    expect(await tcp(wan, "192.0.2.20", 80, { want: "failure" })).toEqual({ result: "timeout" });
    expect(await tcp(wan, "2001:db8:2::20", 80, { want: "failure" })).toEqual({ result: "timeout" });
  }, 60_000);

  test("the management zone reaches the router's port 50000 though a rule denies mgmt → host; the wan host does not", async () => {
    expect(await tcp(mgmt, "203.0.113.1", 50000)).toMatchObject({ result: "connected", reply: { server: "router", port: 50000, peer: "203.0.113.2" } });
    expect(await tcp(mgmt, "2001:db8:9::1", 50000)).toMatchObject({ result: "connected", reply: { server: "router", port: 50000 } });
    // The deny rule is in force for everything else from mgmt (the router listens on 2222 too).
    expect(await tcp(mgmt, "203.0.113.1", 2222, { want: "failure" })).toEqual({ result: "timeout" });
    expect(await tcp(wan, "198.51.100.1", 50000, { want: "failure" })).toEqual({ result: "timeout" });
    expect(await tcp(wan, "2001:db8:1::1", 50000, { want: "failure" })).toEqual({ result: "timeout" });
  }, 60_000);
});

describe("NAT as the far host sees it", () => {
  beforeAll(applyRouter, 60_000);

  test("masquerade: the wan host sees the lan client's connection come from the router's WAN address", async () => {
    expect(await tcp(lan, "198.51.100.2", 80, { from: "192.0.2.10" })).toMatchObject({ result: "connected", reply: { peer: "198.51.100.1" } });
  }, 30_000);

  test("NAT66 masquerades the ULA source to the router's WAN address; global lan addresses are not translated", async () => {
    expect(await tcp(lan, "2001:db8:1::2", 80, { from: "fd00:2::10" })).toMatchObject({ result: "connected", reply: { peer: "2001:db8:1::1" } });
    expect(await tcp(lan, "2001:db8:1::2", 80, { from: "2001:db8:2::10" })).toMatchObject({ result: "connected", reply: { peer: "2001:db8:2::10" } });
  }, 30_000);

  test("NPTv6: outbound the source becomes the external prefix with the same host bits; inbound meets the zones' rules", async () => {
    expect(await tcp(lan, "2001:db8:1::2", 80, { from: "fd00:3::10" })).toMatchObject({ result: "connected", reply: { peer: "2001:db8:3::10" } });
    // Inbound to the external prefix reaches the inside host where a rule allows it (ssh-in) …
    expect(await tcp(wan, "2001:db8:3::20", 22, { from: "2001:db8:1::2" })).toMatchObject({ result: "connected", reply: { server: "srv", port: 22, peer: "2001:db8:1::2" } });
    // … and nowhere else: the wan zone's forward policy still drops (the server listens on 23).
    expect(await tcp(wan, "2001:db8:3::20", 23, { from: "2001:db8:1::2", want: "failure" })).toEqual({ result: "timeout" });
  }, 30_000);

  test("DNAT: the wan host reaches the lan server through the router's WAN address:8080; a shifted UDP range maps port to port", async () => {
    expect(await tcp(wan, "198.51.100.1", 8080)).toMatchObject({ result: "connected", reply: { server: "srv", port: 80, peer: "198.51.100.2" } });
    expect(await udp(wan, "198.51.100.1", 6002)).toMatchObject({ result: "reply", reply: { server: "srv", port: 7002, peer: "198.51.100.2" } });
    expect(await udp(wan, "198.51.100.1", 6000)).toMatchObject({ result: "reply", reply: { server: "srv", port: 7000 } });
  }, 30_000);

  test("hairpin: the lan client reaches the same server through the router's WAN address, and the server sees the router", async () => {
    expect(await tcp(lan, "198.51.100.1", 8080, { from: "192.0.2.10" })).toMatchObject({ result: "connected", reply: { server: "srv", port: 80, peer: "192.0.2.1" } });
  }, 30_000);
});

describe("fos1's table beside Talos's, and by hand", () => {
  test("the talos table and its rule survive every apply, including one that removes all zones and NAT (refused unless --force: it would open the router)", async () => {
    const counter = async () => Number(/tcp dport 50000 counter packets (\d+)/.exec(await nft("list", "table", "inet", "talos"))?.[1] ?? NaN);
    const bare = await configFile(yaml(INTERFACES), "no-firewall");
    await applyRouter();
    expect(await talos()).toBe(talosBefore);
    const refused = await apply(bare);
    expect(refused.exitCode).toBe(2);
    expect(logMessages(refused)).toContain("fos1's firewall in force would be removed");
    expect((await nft("list", "tables")).split("\n").map((l) => l.trim()).filter(Boolean).sort()).toEqual(["table inet fos1", "table inet talos"]);
    const none = await applyOk(bare, ["--force"]);
    expect(none.ops.filter((o) => o.phase === "firewall").map((o) => o.action)).toEqual(["remove"]);
    expect((await nft("list", "tables")).trim()).toBe("table inet talos");
    expect(await talos()).toBe(talosBefore);
    expect((await applyOk(bare)).writes).toBe(0);
    await applyRouter();
    await applyRouter();
    expect(await talos()).toBe(talosBefore);
    // And its hook still sees packets: the counter counts the operator's connection.
    const before = await counter();
    expect(await tcp(mgmt, "203.0.113.1", 50000)).toMatchObject({ result: "connected" });
    expect(await counter()).toBeGreaterThan(before);
  }, 60_000);

  test("a rule added to fos1's table by hand makes the next plan replace the table, and apply restores it", async () => {
    await applyRouter();
    const clean = await nft("-s", "list", "table", "inet", "fos1");
    await nft("add", "rule", "inet", "fos1", "in_wan", "accept");
    expect(await nft("-s", "list", "table", "inet", "fos1")).not.toBe(clean);

    // The same state dir as apply's, whose kept listing the hand edit must not hide.
    const p = await fos1In(router, ["plan", "-f", routerFile, "--state-dir", stateDir, "-o", "json"]);
    expect(p.exitCode).toBe(0);
    const ops = (JSON.parse(p.stdout) as { ops: ApplyJson["ops"] }).ops;
    expect(ops.map((o) => ({ phase: o.phase, action: o.action, subject: o.subject, detail: o.detail }))).toEqual([
      { phase: "firewall", action: "replace", subject: "nftables table inet fos1", detail: "edited outside fos1: restored" },
    ]);
    const out = await applyRouter();
    expect(out.writes).toBe(1);
    expect(await nft("-s", "list", "table", "inet", "fos1")).toBe(clean);
    expect(await talos()).toBe(talosBefore);
  }, 60_000);

  test("a no-op reads nftables' generation instead of listing fos1's table; any other transaction, to any table, makes it list again", async () => {
    // The table as observed (digest and shape; a load by the built executable also keeps its compiledFrom, not compared here), or the error.
    const observe = async (ns: string, nftPath: string) => {
      const r = JSON.parse(await runOk(["ip", "netns", "exec", ns, process.execPath, join(import.meta.dir, "firewall-observe-child.ts"), stateDir, nftPath])) as { firewall?: ObservedFirewall | null; error?: string };
      return r.firewall === undefined ? r : { firewall: r.firewall && { digest: r.firewall.digest, shape: r.firewall.shape } };
    };
    const NO_NFT = join(tmp, "no-such-nft");
    expect((await applyRouter()).writes).toBe(0);
    const listed = parseFirewallListing(await nft("-j", "list", "table", "inet", "fos1"));
    expect(listed.digest).toMatch(/^sha256:/);
    // Nothing committed since apply listed the table: no nft is run, and what it showed comes back.
    expect(await observe(router, NO_NFT)).toEqual({ firewall: listed });
    // A transaction to another table moves the generation: the table is listed again (here nft is missing) …
    await nft("add", "table", "ip", "fos1test_other");
    expect((await observe(router, NO_NFT)).error).toContain("no-such-nft");
    // … and once listed at the new generation, it is not listed again.
    expect(await observe(router, "nft")).toEqual({ firewall: listed });
    expect(await observe(router, NO_NFT)).toEqual({ firewall: listed });
    await nft("delete", "table", "ip", "fos1test_other");
    expect((await observe(router, NO_NFT)).error).toContain("no-such-nft");
    // Another namespace with the same state dir has its own generation: its own listing (no fos1 table there).
    expect((await observe(mgmt, NO_NFT)).error).toContain("no-such-nft");
    expect(await observe(mgmt, "nft")).toEqual({ firewall: null });
    expect(await observe(mgmt, NO_NFT)).toEqual({ firewall: null });
    expect(await observe(router, "nft")).toEqual({ firewall: listed });
    // fos1's own load, the one transaction between the generations read around it, needs no listing: what it keeps is what nft lists.
    await nft("delete", "table", "inet", "fos1");
    expect((await applyRouter()).writes).toBe(1);
    expect(await observe(router, NO_NFT)).toEqual({ firewall: parseFirewallListing(await nft("-j", "list", "table", "inet", "fos1")) });
  }, 60_000);

  test("the built executable keeps its load with the config's key: a no-op compiles nothing, and a changed config or a hand edit still changes the table", async () => {
    // The key needs the build's source digest, which only \`make build\` stamps (make test builds first).
    const bin = process.env.FOS1_BIN ?? join(import.meta.dir, "../../dist/fos1");
    const applyWith = async (file: string) => {
      const r = await runOk(["ip", "netns", "exec", router, bin, "apply", "-f", file, "--state-dir", stateDir, "-o", "json"]);
      return JSON.parse(r) as ApplyJson;
    };
    routerFile ||= await configFile(ROUTER, "router");
    const changed = await configFile(ROUTER.replace("port: 8080,", "port: 8081,"), "router-8081");
    await nft("add", "table", "inet", "fos1"); // so that the delete finds it, whatever ran before
    await nft("delete", "table", "inet", "fos1");
    expect((await applyWith(routerFile)).writes).toBe(1);
    const kept = JSON.parse(await runOk(["ip", "netns", "exec", router, process.execPath, join(import.meta.dir, "firewall-observe-child.ts"), stateDir, join(tmp, "no-such-nft")])) as { firewall: ObservedFirewall };
    expect(kept.firewall.compiledFrom).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect((await applyWith(routerFile)).writes).toBe(0);
    expect((await applyWith(changed)).writes).toBe(1);
    expect(await nft("list", "table", "inet", "fos1")).toContain("dport 8081");
    expect((await applyWith(routerFile)).writes).toBe(1);
    await nft("add", "rule", "inet", "fos1", "in_wan", "accept");
    expect((await applyWith(routerFile)).writes).toBe(1);
    expect((await applyWith(routerFile)).writes).toBe(0);
  }, 60_000);
});

describe("refusals change nothing", () => {
  test("lockout: zones without a management zone → exit 2, says why, nothing changes; with --force it applies", async () => {
    await applyRouter();
    const locked = await configFile(yaml(INTERFACES, ZONES.map((z) => z.replace("\n  management: true", "")), RULES, NAT), "lockout");
    const [rulesBefore, stateBefore] = [await ruleset(), await dumpState(router)];

    const r = await apply(locked);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe("");
    expect(logMessages(r)).toContain(`${locked}: refusing to apply: no FirewallZone has management: true`);
    expect(logMessages(r)).toContain("--force");
    expect(await ruleset()).toBe(rulesBefore);
    expect(await dumpState(router)).toEqual(stateBefore);
    expect(await tcp(mgmt, "203.0.113.1", 50000)).toMatchObject({ result: "connected" });

    const forced = await applyOk(locked, ["--force"]);
    expect(forced.ops.map((o) => `${o.action} ${o.subject}`)).toEqual(["change nftables table inet fos1"]);
    // It really is applied: the operator is now shut out of the management port.
    expect(await tcp(mgmt, "203.0.113.1", 50000, { want: "failure" })).toEqual({ result: "timeout" });
    await applyRouter();
    expect(await tcp(mgmt, "203.0.113.1", 50000)).toMatchObject({ result: "connected" });
  }, 60_000);

  // Each problem is on the line of its needle (the first line that holds it).
  const bad: { name: string; docs: string[][]; needle: string; problem: RegExp }[] = [
    { name: "a rule naming an unknown zone", docs: [INTERFACES, ZONES, [rule("x", "fromZone: dmz\ntoZone: wan\naction: allow")]], needle: "fromZone: dmz", problem: /document 7 \(FirewallRule\/x\) spec\.fromZone: unknown zone "dmz"/ },
    { name: "a zone naming an unknown interface", docs: [INTERFACES, ZONES, [sec("FirewallZone", "dmz", "interfaces: [dmz0]")]], needle: "interfaces: [dmz0]", problem: /document 7 \(FirewallZone\/dmz\) spec\.interfaces\[0\]: unknown interface "dmz0"/ },
    { name: "an interface in two zones", docs: [INTERFACES, ZONES, [sec("FirewallZone", "dmz", "interfaces: [lan0]")]], needle: "interfaces: [lan0]", problem: /document 7 \(FirewallZone\/dmz\) spec\.interfaces\[0\]: lan is already in zone lan \(FirewallZone\/lan\)/ },
    { name: "a reversed port range", docs: [INTERFACES, ZONES, [rule("x", "fromZone: lan\ntoZone: wan\nprotocol: tcp\nports: [90-80]\naction: allow")]], needle: "ports: [90-80]", problem: /document 7 \(FirewallRule\/x\) spec\.ports\[0\]: port range 90-80 is reversed; write 80-90/ },
    { name: "ports on icmp", docs: [INTERFACES, ZONES, [rule("x", "fromZone: lan\ntoZone: wan\nprotocol: icmp\nports: [8]\naction: allow")]], needle: "ports: [8]", problem: /document 7 \(FirewallRule\/x\) spec\.ports: ports need protocol tcp or udp; protocol is icmp/ },
    { name: "a DNAT to an address in no LAN", docs: [INTERFACES, ZONES, [net("NATPolicy", "x", "type: dnat\ninterface: wan\nforwards: [{protocol: tcp, port: 8080, to: 198.51.100.9}]")]], needle: "to: 198.51.100.9", problem: /document 7 \(NATPolicy\/x\) spec\.forwards\[0\]\.to: 198\.51\.100\.9 is in no LAN/ },
    { name: "overlapping NPTv6 prefixes", docs: [INTERFACES, ZONES, NAT, [net("NATPolicy", "x", "type: nptv6\ninterface: wan\ninternalPrefix: 'fd00:3::/48'\nexternalPrefix: '2001:db8:5::/48'")]], needle: "internalPrefix: 'fd00:3::/48'", problem: /document 11 \(NATPolicy\/x\) spec\.internalPrefix: fd00:3::\/48 overlaps fd00:3::\/64 of NATPolicy\/npt/ },
  ];
  for (const c of bad)
    test(`invalid config (${c.name}): exit 2 naming file, line and field; the ruleset and the host are identical`, async () => {
      await applyRouter();
      const file = await configFile(yaml(...c.docs), "bad");
      const [rulesBefore, stateBefore] = [await ruleset(), await dumpState(router)];
      const r = await apply(file);
      expect(r.exitCode).toBe(2);
      expect(r.stdout).toBe("");
      const msg = logMessages(r);
      expect(msg).toContain(`${file}: 1 problem, nothing was changed:`);
      const text = yaml(...c.docs);
      const line = text.split("\n").findIndex((l) => l.includes(c.needle)) + 1;
      expect(line).toBeGreaterThan(0);
      expect(msg).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:${line}:\\d+: ${c.problem.source}`));
      expect(await ruleset()).toBe(rulesBefore);
      expect(await dumpState(router)).toEqual(stateBefore);
    }, 60_000);
});

test("at the end of all of the above, Talos's table is exactly as it was before fos1 first ran", async () => {
  expect(talosBefore).toContain("tcp dport 50000 counter accept");
  expect(await talos()).toBe(talosBefore);
});
