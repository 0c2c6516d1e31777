// Run by test/netns/dhcp-stop.test.ts inside a namespace: fos1's DHCP supervisor on wan0. Once
// the lease's address and default route are in, dhcpcd is frozen (SIGSTOP to its process group,
// as a dhcpcd that hangs), so that stopping the supervisor has to kill it; then it exits.
import { DhcpSupervisor } from "../../src/engine/dhcp";
import { Logger } from "../../src/base/log";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const [stateDir] = process.argv.slice(2) as [string];
const supervisor = new DhcpSupervisor({ stateDir, log: new Logger(), stopTimeoutMs: 1000 });
await supervisor.converge([{ ifname: "wan0", v4: true, v6: false }]);
const ip = (...args: string[]) => Bun.spawnSync(["ip", ...args]).stdout.toString();
for (let i = 0; i < 300 && !(/dynamic/.test(ip("-4", "address", "show", "dev", "wan0")) && /default/.test(ip("-4", "route", "show", "proto", "dhcp"))); i++) await Bun.sleep(100);
console.log(`leased: ${ip("-4", "-brief", "address", "show", "dev", "wan0").trim()}; ${ip("-4", "route", "show", "proto", "dhcp").trim().replace(/\n/g, "; ")}`);
process.kill(-Number(readFileSync(join(stateDir, "dhcpcd.pid"), "utf8").trim()), "SIGSTOP");
await supervisor.stop();
console.log("stopped");
