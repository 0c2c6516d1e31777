// fos1's XDP filter driven through src/bpf inside a lab VM, the way the agent will drive it:
// bundled by test/lab/xdp-bond.test.ts and run by the VM's own fos1 executable as a Bun
// runtime (BUN_BE_BUN=1). Each run does one thing, prints one JSON line and exits, so the
// test sees what outlives the process (the attached program, the pinned maps).
//
//   load-attach OBJECT PINROOT IFNAMES [PREFIX…]  load the filter (maps pinned under PINROOT,
//                                                 reused when already there), report what the
//                                                 pins held before this run, block the
//                                                 prefixes, attach to each of IFNAMES (comma-
//                                                 separated; mode auto), exit
//   detach IFNAMES                                detach xdp_filter from each interface
//   query IFNAMES                                 the XDP programs on each interface
//   read PINROOT                                  blocked prefixes and counters from the pins
//   send SRC DST PORT FLOWS PACKETS               UDP: FLOWS sockets bound to SRC (source
//                                                 ports 40000…), PACKETS datagrams each to
//                                                 DST:PORT (the traffic generator; runs in the
//                                                 peer's wan namespace)
import { existsSync } from "node:fs";
import { attachXdp, detachXdp, queryXdp } from "../../src/bpf/xdp";
import { PROGRAM_NAME, XdpFilter, XdpFilterMaps } from "../../src/bpf/xdp-filter";
import { sendUdp } from "../netns/xdp-udp";

const names = (list: string) => list.split(",").filter(Boolean);

function readPins(pinRoot: string) {
  const maps = XdpFilterMaps.openPinned(pinRoot);
  try {
    return { blocked: maps.blocked(), counters: maps.counters() };
  } finally {
    maps.close();
  }
}

async function main(argv: string[]): Promise<unknown> {
  const [cmd, ...a] = argv;
  switch (cmd) {
    case "load-attach": {
      const [object, pinRoot, ifnames, ...prefixes] = a as [string, string, string, ...string[]];
      const pinnedBefore = existsSync(`${pinRoot}/xdpf_block_v4`);
      const filter = XdpFilter.load({ object, pinRoot });
      try {
        const before = { blocked: filter.maps.blocked(), counters: filter.maps.counters() };
        for (const p of prefixes) filter.maps.block(p);
        const attached = names(ifnames).map((ifname) => attachXdp(ifname, filter.program, "auto"));
        return { pinnedBefore, before, attached, blocked: filter.maps.blocked(), pins: filter.pins() };
      } finally {
        filter.close();
      }
    }
    case "detach":
      return { detached: names(a[0]!).map((ifname) => ({ ifname, detached: detachXdp(ifname, PROGRAM_NAME) })) };
    case "query":
      return { attached: Object.fromEntries(names(a[0]!).map((ifname) => [ifname, queryXdp(ifname)])) };
    case "read":
      return readPins(a[0]!);
    case "send": {
      const [src, dst, port, flows, packets] = a as [string, string, string, string, string];
      return { sent: await sendUdp(src, dst, Number(port), Number(flows), Number(packets)) };
    }
  }
  throw new Error(`unknown command ${cmd}`);
}

const json = (v: unknown) => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? x.toString() : x));
try {
  console.log(json(await main(process.argv.slice(2))));
} catch (err) {
  console.log(json({ error: (err as Error).message }));
  process.exit(1);
}
