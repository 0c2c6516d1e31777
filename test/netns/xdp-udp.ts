// UDP traffic for the XDP tests, run as its own process inside a network namespace (as
// `nsenter --net=/run/netns/NS bun xdp-udp.ts …`); test/lab/xdp-loader.ts uses `sendUdp` the
// same way inside a lab VM.
//
//   send SRC DST PORT FLOWS PACKETS     FLOWS sockets bound to SRC (source ports 40000…), PACKETS
//                                       datagrams each to DST:PORT; prints {"sent": N}
//   count ADDR PORT[,PORT…] UNTIL N     counts datagrams per port on ADDR; prints {"ready": true}
//                                       once bound, and {"counts": {…}} when port UNTIL has
//                                       N of them (or after 30 s, so a test that waits for
//                                       what never comes fails on what it got)

/** Sends the datagrams; returns how many the kernel took. */
export async function sendUdp(src: string, dst: string, port: number, flows: number, packets: number): Promise<number> {
  const payload = new Uint8Array(64).fill(0x61);
  let sent = 0;
  for (let f = 0; f < flows; f++) {
    const s = await Bun.udpSocket({ hostname: src, port: 40000 + f });
    for (let i = 0; i < packets; i++) {
      if (s.send(payload, port, dst)) sent++;
      // a little pacing: a lab guest's NIC queue is short
      if (i % 8 === 7) await Bun.sleep(1);
    }
    s.close();
  }
  return sent;
}

const GIVE_UP_MS = 30_000;

async function count(addr: string, ports: number[], until: number, wanted: number): Promise<Record<number, number>> {
  const counts: Record<number, number> = Object.fromEntries(ports.map((p) => [p, 0]));
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const sockets = await Promise.all(
    ports.map((port) =>
      Bun.udpSocket({
        hostname: addr,
        port,
        socket: {
          data() {
            counts[port]!++;
            if (counts[until]! >= wanted) done();
          },
        },
      }),
    ),
  );
  console.log(JSON.stringify({ ready: true }));
  const giveUp = setTimeout(done, GIVE_UP_MS);
  await finished;
  clearTimeout(giveUp);
  for (const s of sockets) s.close();
  return counts;
}

if (import.meta.main) {
  const [cmd, ...a] = process.argv.slice(2);
  if (cmd === "send") {
    const [src, dst, port, flows, packets] = a as [string, string, string, string, string];
    console.log(JSON.stringify({ sent: await sendUdp(src, dst, Number(port), Number(flows), Number(packets)) }));
  } else if (cmd === "count") {
    const [addr, ports, until, wanted] = a as [string, string, string, string];
    console.log(JSON.stringify({ counts: await count(addr, ports.split(",").map(Number), Number(until), Number(wanted)) }));
  } else {
    console.error(`unknown command ${cmd}; see the top of xdp-udp.ts`);
    process.exit(2);
  }
}
