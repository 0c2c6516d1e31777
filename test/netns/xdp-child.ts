// A separate process for the XDP attach tests (xdp-attach.test.ts): each run does one thing
// through src/bpf, prints one JSON line and exits, so the tests see what survives a process.
// Run it as `nsenter --net=/run/netns/NS bun xdp-child.ts …`: interface names then resolve in
// that namespace, while bpffs -- a mount, not part of the network namespace -- stays visible
// (`ip netns exec` would remount /sys and hide it).
//
//   load-attach OBJECT PINROOT IFNAME MODE [PREFIX…]  load the filter (pinned maps), block the
//                                                     prefixes, attach, exit
//   attach-object OBJECT PROGRAM IFNAME MODE          load any object (no pins) and attach one program
//   detach IFNAME PROGRAM                             detach that program
//   query IFNAME                                      the XDP programs on the interface
//   read PINROOT                                      blocked prefixes and counters from the pins
import { BpfObject } from "../../src/bpf/object";
import { attachXdp, detachXdp, queryXdp, type XdpModeRequest } from "../../src/bpf/xdp";
import { XdpFilter, XdpFilterMaps } from "../../src/bpf/xdp-filter";

function main(argv: string[]): unknown {
  const [cmd, ...a] = argv;
  switch (cmd) {
    case "load-attach": {
      const [object, pinRoot, ifname, mode, ...prefixes] = a as [string, string, string, XdpModeRequest, ...string[]];
      const filter = XdpFilter.load({ object, pinRoot });
      try {
        for (const p of prefixes) filter.maps.block(p);
        const attach = attachXdp(ifname, filter.program, mode);
        return { attach, blocked: filter.maps.blocked() };
      } finally {
        filter.close();
      }
    }
    case "attach-object": {
      const [object, program, ifname, mode] = a as [string, string, string, XdpModeRequest];
      const obj = BpfObject.open(object);
      try {
        obj.load();
        return { attach: attachXdp(ifname, obj.program(program), mode) };
      } finally {
        obj.close();
      }
    }
    case "detach":
      return { detached: detachXdp(a[0]!, a[1]!) };
    case "query":
      return { attached: queryXdp(a[0]!) };
    case "read": {
      const maps = XdpFilterMaps.openPinned(a[0]!);
      try {
        return { blocked: maps.blocked(), counters: maps.counters() };
      } finally {
        maps.close();
      }
    }
  }
  throw new Error(`unknown command ${cmd}`);
}

const json = (v: unknown) => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? x.toString() : x));
try {
  console.log(json(main(process.argv.slice(2))));
} catch (err) {
  console.log(json({ error: (err as Error).message }));
  process.exit(1);
}
