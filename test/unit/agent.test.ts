// The agent's pure parts: reading `ip monitor` output and the debounced single-flight
// scheduler. The agent itself runs against the real kernel in test/netns/agent.test.ts.
import { describe, expect, test } from "bun:test";
import { parseMonitorLine } from "../../src/agent/monitor";
import { ConvergeScheduler } from "../../src/agent/scheduler";

describe("parseMonitorLine", () => {
  // Printed by iproute2 6.1's `ip -json monitor label link address route rule netconf` on this machine.
  const printed = `[LINK]3: v0@v1: <BROADCAST,MULTICAST,M-DOWN> mtu 1500 qdisc noop state DOWN group default 
    link/ether da:91:8f:c4:52:c6 brd ff:ff:ff:ff:ff:ff
[ADDR]3: v0    inet 192.0.2.1/24 scope global v0
       valid_lft forever preferred_lft forever
[ROUTE]198.51.100.0/24 via 192.0.2.2 dev v0 proto 241 linkdown 
[RULE]100:	from 192.0.2.0/24 lookup 100
[ADDR]Deleted 3: v0    inet 192.0.2.1/24 scope global v0
       valid_lft forever preferred_lft forever
[RULE]Deleted 100:	from 192.0.2.0/24 lookup 100
[NETCONF]inet all forwarding off 
[LINK]Deleted 2: v1@NONE: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default 
    link/ether 22:e9:08:da:32:96 brd ff:ff:ff:ff:ff:ff`;

  test("one event per record, continuation lines skipped, object and deletion told apart", () => {
    const events = printed.split("\n").map(parseMonitorLine).filter((e) => e !== null);
    expect(events).toEqual([
      { object: "link", deleted: false },
      { object: "address", deleted: false },
      { object: "route", deleted: false },
      { object: "rule", deleted: false },
      { object: "address", deleted: true },
      { object: "rule", deleted: true },
      { object: "netconf", deleted: false },
      { object: "link", deleted: true },
    ]);
  });

  test("a record it cannot place is still a change", () => {
    expect(parseMonitorLine('{"ifindex":3,"ifname":"v0"}')).toEqual({ object: "unknown", deleted: false });
    expect(parseMonitorLine("[NSID]current nsid 0")).toEqual({ object: "unknown", deleted: false });
  });
});

describe("ConvergeScheduler", () => {
  /** A run that records its reasons and how many runs overlapped, and takes runMs. */
  function recorder(runMs: number) {
    const runs: string[][] = [];
    let active = 0, maxActive = 0;
    const run = async (reasons: string[]) => {
      maxActive = Math.max(maxActive, ++active);
      runs.push(reasons);
      await Bun.sleep(runMs);
      active--;
    };
    return { runs, run, maxActive: () => maxActive };
  }

  test("a burst of requests gives one run with every reason", async () => {
    const r = recorder(0);
    const s = new ConvergeScheduler(r.run, 30);
    for (let i = 0; i < 50; i++) s.request(i % 2 ? "netlink link" : "netlink address");
    await Bun.sleep(300);
    await s.stop();
    expect(r.runs).toEqual([["netlink address", "netlink link"]]);
  });

  test("requests during a run give exactly one more run after it, never two at once", async () => {
    const r = recorder(150);
    const s = new ConvergeScheduler(r.run, 10);
    s.request("first");
    await Bun.sleep(60); // the first run is under way
    for (let i = 0; i < 20; i++) s.request("echo");
    await Bun.sleep(600);
    await s.stop();
    expect(r.runs).toEqual([["first"], ["echo"]]);
    expect(r.maxActive()).toBe(1);
  });

  test("runNow runs at once, taking pending reasons along", async () => {
    const r = recorder(100);
    const s = new ConvergeScheduler(r.run, 10_000);
    s.request("pending"); // would wait 10 s
    await s.runNow("start");
    expect(r.runs).toEqual([["pending", "start"]]);
    await s.stop();
  });

  test("a hold keeps runs off until released", async () => {
    const r = recorder(0);
    const s = new ConvergeScheduler(r.run, 10);
    s.holdFor(60_000);
    s.request("netlink route");
    await Bun.sleep(200);
    expect(r.runs).toEqual([]);
    s.releaseHold();
    await Bun.sleep(200);
    await s.stop();
    expect(r.runs).toEqual([["netlink route"]]);
  });

  test("after stop nothing runs", async () => {
    const r = recorder(0);
    const s = new ConvergeScheduler(r.run, 10);
    s.request("x");
    await s.stop();
    s.request("y");
    await Bun.sleep(100);
    expect(r.runs).toEqual([]);
  });
});
