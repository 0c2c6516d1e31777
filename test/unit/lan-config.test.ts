// dnsmasq's files for the LAN services against golden files, the way the firewall compiler is
// tested (firewall-compile.test.ts): each folder of test/unit/golden/lan/ holds a config
// (config.yaml; default-config/ uses the shipped src/api/default-config.yaml as it is on disk)
// and what renderDnsmasq makes of it (dnsmasq.out: dnsmasq.conf, dhcp-hosts, dhcp-opts and
// hosts, each under a "==> NAME <==" line, rendered for /var/lib/fos1/lan).
// `UPDATE_GOLDEN=1 bun test test/unit/lan-config.test.ts` rewrites dnsmasq.out; review every
// changed line against dnsmasq(8) before committing it.
//
// Each golden is also handed to dnsmasq's own checker the way the supervisor does it
// (src/engine/lan/supervisor.ts, check()): the files written into a folder of their own, the
// options and static leases appended to the main file as the dhcp-option= and dhcp-host= lines
// they stand for (`--test` reads only the main file), then `dnsmasq --test`. A value dnsmasq
// refuses must make that check fail, so passing it means something.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadConfigText } from "../../src/api/load";
import { formatProblem } from "../../src/api/problems";
import { desiredState } from "../../src/engine/desired";
import { asOneFileForCheck, fileNames, renderDnsmasq, type DnsmasqFiles } from "../../src/engine/lan/dnsmasq-config";
import type { DesiredLan } from "../../src/engine/lan/model";

const GOLDEN = resolve(import.meta.dir, "golden/lan");
const DEFAULT_CONFIG = resolve(import.meta.dir, "../../src/api/default-config.yaml");
const UPDATE = process.env.UPDATE_GOLDEN === "1";
const DIR = "/var/lib/fos1/lan";
const DNSMASQ = Bun.which("dnsmasq") ?? (existsSync("/usr/sbin/dnsmasq") ? "/usr/sbin/dnsmasq" : null);
const tmp = mkdtempSync(join(tmpdir(), "fos1-lan-golden-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const CASES = ["default-config", "dhcp-without-dns", "dns-resolver", "ra-unserved-zone", "stateful-dhcpv6", "static-leases-options"];
const configPath = (name: string) => (name === "default-config" ? DEFAULT_CONFIG : join(GOLDEN, name, "config.yaml"));

function lanOf(text: string, file: string): DesiredLan {
  const r = loadConfigText(text, file);
  if (r.problems.length) throw new Error(`golden config ${file} is not valid:\n${r.problems.map(formatProblem).join("\n")}`);
  const lan = desiredState(r.objects).lan;
  if (!lan) throw new Error(`golden config ${file} has no LAN services`);
  return lan;
}

const lanOfCase = (name: string) => lanOf(readFileSync(configPath(name), "utf8"), `${name}/config.yaml`);

/** The four files, one after the other, each under its name. */
function render(files: DnsmasqFiles): string {
  return (["conf", "dhcpHosts", "dhcpOpts", "hosts"] as const).map((k) => `==> ${fileNames[k]} <==\n${files[k]}`).join("\n");
}

/** dnsmasq --test on the files as the supervisor's check() lays them out, in a folder of their own. */
function dnsmasqCheck(lan: DesiredLan, name: string): { exitCode: number; output: string; conf: string } {
  const dir = join(tmp, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const files = renderDnsmasq(lan, { dir });
  const conf = asOneFileForCheck(files);
  writeFileSync(join(dir, fileNames.conf), conf);
  for (const k of ["dhcpHosts", "dhcpOpts", "hosts"] as const) writeFileSync(join(dir, fileNames[k]), files[k]);
  writeFileSync(join(dir, fileNames.resolv), "");
  const r = Bun.spawnSync([DNSMASQ!, "--test", `--conf-file=${join(dir, fileNames.conf)}`], { stdout: "pipe", stderr: "pipe" });
  return { exitCode: r.exitCode, output: (r.stdout.toString() + r.stderr.toString()).trim(), conf };
}

test("the golden cases are all there", () => {
  expect(readdirSync(GOLDEN).sort()).toEqual(CASES);
});

for (const name of CASES) {
  describe(name, () => {
    test("renders exactly the golden files", () => {
      const got = render(renderDnsmasq(lanOfCase(name), { dir: DIR }));
      const file = join(GOLDEN, name, "dnsmasq.out");
      if (UPDATE) writeFileSync(file, got);
      expect(existsSync(file)).toBe(true);
      expect(got).toBe(readFileSync(file, "utf8"));
      // Rendering is a function of the model: the same again.
      expect(render(renderDnsmasq(lanOfCase(name), { dir: DIR }))).toBe(got);
    });

    test.skipIf(!DNSMASQ)("dnsmasq --test accepts it, static leases and options included", () => {
      const r = dnsmasqCheck(lanOfCase(name), name);
      expect({ exitCode: r.exitCode, output: r.output }).toMatchObject({ exitCode: 0, output: expect.stringContaining("syntax check OK") });
    });
  });
}

describe("what the goldens rest on", () => {
  test("the paths in the files are under the folder given", () => {
    const files = renderDnsmasq(lanOfCase("dns-resolver"), { dir: "/x/y" });
    expect(files.conf).toContain("addn-hosts=/x/y/hosts\n");
    expect(files.conf).toContain("dhcp-hostsfile=/x/y/dhcp-hosts\n");
    expect(files.conf).toContain("dhcp-optsfile=/x/y/dhcp-opts\n");
    expect(files.conf).toContain("dhcp-leasefile=/x/y/dnsmasq.leases\n");
    expect(files.conf).not.toContain(DIR);
  });

  test.skipIf(!DNSMASQ)("the check is not vacuous: an option value dnsmasq refuses (ntp-server not-an-address) fails it", () => {
    // fos1's own checks refuse this value before any file is written; the model is edited
    // after them to show that dnsmasq --test would refuse it too, naming the line.
    const lan = lanOfCase("static-leases-options");
    const option = lan.dhcp[0]!.options.find((o) => o.name === "ntp-server");
    expect(option).toBeDefined();
    option!.value = "not-an-address";
    const r = dnsmasqCheck(lan, "refused");
    expect(r.exitCode).not.toBe(0);
    expect(r.output).not.toContain("syntax check OK");
    const line = Number(/bad IP address at line (\d+) of /.exec(r.output)?.[1]);
    expect(r.conf.split("\n")[line - 1]).toMatch(/^dhcp-option=tag:fos1-lan-served-0,option:ntp-server,not-an-address$/);
  });

  test.skipIf(!DNSMASQ)("so is a static lease dnsmasq refuses, which reaches the check only through its dhcp-host line", () => {
    const lan = lanOfCase("static-leases-options");
    lan.dhcp[0]!.staticLeases[0]!.mac = "52:54:00:zz:00:01";
    const r = dnsmasqCheck(lan, "refused-lease");
    expect(r.exitCode).not.toBe(0);
    expect(r.output).not.toContain("syntax check OK");
    const line = Number(/bad hex constant at line (\d+) of /.exec(r.output)?.[1]);
    expect(r.conf.split("\n")[line - 1]).toBe("dhcp-host=52:54:00:zz:00:01,192.168.10.10,nas,3600");
  });
});
