import { describe, expect, test } from "bun:test";
import pkg from "../../package.json" with { type: "json" };
import { fos1, logMessages } from "../helpers/fos1";

const everyCommand = ["agent", "apply", "confirm", "controller", "leases", "plan", "rollback", "status", "translate", "validate", "version", "xdp"];

describe("fos1 --help", () => {
  test("lists every subcommand with a one-line summary and exits 0", async () => {
    const r = await fos1(["--help"]);
    expect(r.exitCode).toBe(0);
    for (const name of everyCommand) expect(r.stdout).toMatch(new RegExp(`^  ${name} +\\S.*$`, "m"));
  });

  test("help COMMAND shows that command's usage", async () => {
    const r = await fos1(["help", "version"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain("usage: fos1 version [-o json]");
  });

  test("no command at all is a usage error: help on stderr, exit 2", async () => {
    const r = await fos1([]);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("usage: fos1 COMMAND");
  });
});

describe("usage errors exit 2 and say what is wrong", () => {
  test("unknown command", async () => {
    const r = await fos1(["frobnicate"]);
    expect(r.exitCode).toBe(2);
    expect(logMessages(r)).toContain('unknown command "frobnicate"');
  });

  test("unknown flag", async () => {
    const r = await fos1(["version", "--bogus"]);
    expect(r.exitCode).toBe(2);
    expect(logMessages(r)).toContain("--bogus");
  });

  test("output format other than text or json", async () => {
    const r = await fos1(["version", "-o", "yaml"]);
    expect(r.exitCode).toBe(2);
    expect(logMessages(r)).toContain('not "yaml"');
  });

  test("stray positional argument", async () => {
    const r = await fos1(["version", "extra"]);
    expect(r.exitCode).toBe(2);
    expect(logMessages(r)).toContain('unexpected argument "extra"');
  });
});

describe("fos1 version", () => {
  test("-o json reports version, commit, Bun and the libbpf this machine has", async () => {
    const r = await fos1(["version", "-o", "json"]);
    expect(r.exitCode).toBe(0);
    const v = JSON.parse(r.stdout);
    expect(v.version).toBe(pkg.version);
    expect(v.bun).toMatch(/^\d+\.\d+\.\d+/);
    expect(v.libbpf).toMatch(/^v\d+\.\d+/);
    expect(typeof v.commit).toBe("string");
    if (process.env.FOS1_BIN) expect(v.commit).toMatch(/^[0-9a-f]{12}(-dirty)?$/);
  });

  test("says plainly when libbpf cannot be found", async () => {
    const json = await fos1(["version", "-o", "json"], { FOS1_LIBBPF: "/nonexistent/libbpf.so.1" });
    expect(json.exitCode).toBe(0);
    expect(JSON.parse(json.stdout).libbpf).toBeNull();
    const text = await fos1(["version"], { FOS1_LIBBPF: "/nonexistent/libbpf.so.1" });
    expect(text.stdout).toMatch(/^libbpf +not found$/m);
  });

  test("text output has one line per field", async () => {
    const r = await fos1(["version"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^fos1 +\d+\.\d+\.\d+$/m);
    expect(r.stdout).toMatch(/^libbpf +v\d/m);
  });
});

describe("fos1 status", () => {
  test("-o json shows the kernel's interfaces, loopback with its addresses", async () => {
    const r = await fos1(["status", "-o", "json", "--state-dir", "/nonexistent/fos1-state"]);
    expect(r.exitCode).toBe(0);
    const s = JSON.parse(r.stdout);
    const lo = s.interfaces.find((i: { name: string }) => i.name === "lo");
    expect(lo.kind).toBe("loopback");
    expect(lo.addresses).toContain("127.0.0.1/8");
    expect(s.config).toEqual({ lastKnownGood: null, pending: null });
  });
});

describe("fos1 xdp", () => {
  test("fos1 xdp: a bad CIDR is invalid input (exit 2) and says why, before anything is looked at", async () => {
    for (const [cidr, why] of [["203.0.113.1/24", "host bits set (the network is 203.0.113.0/24)"], ["300.1.2.0/24", "not an IPv4 or IPv6 prefix"], ["2001:db8::/129", "not an IPv4 or IPv6 prefix"]] as const) {
      const r = await fos1(["xdp", "block", cidr, "--state-dir", "/nonexistent"]);
      expect({ cidr, exit: r.exitCode }).toEqual({ cidr, exit: 2 });
      expect(logMessages(r)).toContain(why);
    }
    const ttl = await fos1(["xdp", "block", "203.0.113.0/24", "--ttl", "soon"]);
    expect(ttl.exitCode).toBe(2);
    expect(logMessages(ttl)).toContain("--ttl takes a duration");
  });

  test("fos1 xdp without a known subcommand is a usage error", async () => {
    for (const args of [["xdp"], ["xdp", "frob"], ["xdp", "list", "extra"]]) {
      const r = await fos1(args);
      expect({ args, exit: r.exitCode }).toEqual({ args, exit: 2 });
      expect(logMessages(r)).toContain("usage: fos1 xdp status");
    }
  });

  test("plan and apply without -f are usage errors", async () => {
    for (const cmd of ["plan", "apply", "validate"]) {
      const r = await fos1([cmd]);
      expect(r.exitCode).toBe(2);
      expect(logMessages(r)).toContain("-f FILE is required");
    }
  });

  test("an unreadable config is invalid input, exit 2", async () => {
    const r = await fos1(["validate", "-f", "/nonexistent/config.yaml"]);
    expect(r.exitCode).toBe(2);
    expect(logMessages(r)).toContain("cannot read config /nonexistent/config.yaml: no such file");
  });
});

describe("logging", () => {
  test("errors are JSON lines on stderr when stderr is not a terminal", async () => {
    const r = await fos1(["frobnicate"]);
    const line = JSON.parse(r.stderr.trim().split("\n").at(-1)!);
    expect(line.level).toBe("error");
    expect(line.msg).toContain("frobnicate");
    expect(Date.parse(line.time)).not.toBeNaN();
  });

  test("FOS1_LOG_FORMAT=text gives readable lines even when stderr is a pipe", async () => {
    const r = await fos1(["frobnicate"], { FOS1_LOG_FORMAT: "text" });
    expect(r.stderr).toMatch(/^\d\d:\d\d:\d\d ERROR unknown command "frobnicate"/);
  });
});

describe("fos1 defaults", () => {
  test("prints the shipped config, which validates and keeps a management zone", async () => {
    const r = await fos1(["defaults"]);
    expect(r.exitCode).toBe(0);
    const { loadConfigText } = await import("../../src/api/load");
    const { desiredState } = await import("../../src/engine/desired");
    const { guardReasons } = await import("../../src/apply/guard");
    const loaded = loadConfigText(r.stdout, "defaults");
    expect(loaded.problems).toEqual([]);
    expect(guardReasons(desiredState(loaded.objects))).toEqual([]);
  });
});
