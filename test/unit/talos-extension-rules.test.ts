// Talos's extension rules as hack/extension/talos-rules.ts re-states them (v1.13.9 source);
// test/bats/extension.bats runs them on the built image and on broken copies of it.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml, stringify } from "yaml";
import { AGENT_CAPABILITIES, AGENT_MOUNTS, checkLeastPrivilege } from "../../hack/extension/least-privilege";
import { checkContents, checkManifest, parseRange } from "../../hack/extension/talos-rules";

const v = (s: string) => s.split(".").map(Number) as [number, number, number];

describe("Talos version constraints (blang/semver ranges, v prefixes allowed)", () => {
  test.each([
    [">= v1.13.0", "1.13.9", true],
    [">= v1.13.0", "1.12.6", false],
    [">=1.13.0 <1.14.0", "1.14.0", false],
    [">= 1.13.0 < 1.14.0", "1.13.2", true],
    ["<1.12.0 || >=1.13.0", "1.12.5", false],
    ["<1.12.0 || >=1.13.0", "1.11.0", true],
    ["!=1.13.3", "1.13.3", false],
    ["1.13.9", "1.13.9", true],
  ])("%s admits %s: %p", (range, version, admits) => {
    const r = parseRange(range);
    if (typeof r === "string") throw new Error(r);
    expect(r(v(version))).toBe(admits);
  });

  test("a constraint that is not one says which part", () => {
    expect(parseRange(">= 1.13")).toBe('">=1.13" in ">= 1.13" is not an operator (>=, <=, >, <, =, !=) and a version x.y.z');
  });
});

describe("rootfs contents", () => {
  test("links may point anywhere and have mode 0777; files outside the allowed prefixes may not exist", () => {
    expect(
      checkContents([
        { path: "/usr/local/lib/containers/x/lib", type: "symlink", mode: 0o777 },
        { path: "/usr/lib/ld-linux-x86-64.so.2", type: "file", mode: 0o755 },
        { path: "/usr", type: "directory", mode: 0o755 },
        { path: "/usr/localized", type: "file", mode: 0o644 },
      ]).map((p) => p.where),
    ).toEqual(["/usr/localized"]);
  });
});

describe("manifest", () => {
  const good = `version: v1alpha1\nmetadata:\n  name: fos1\n  version: 0.1.0\n  author: a\n  description: d\n  compatibility:\n    talos:\n      version: ">= v1.13.0"\n`;

  test("a complete manifest passes", () => {
    expect(checkManifest(good, "v1.13.9")).toEqual([]);
  });

  test("a missing version, an unknown field and an empty author are each named", () => {
    const bad = good.replace("  version: 0.1.0\n", "").replace("author: a", "author: ''").replace("metadata:", "metadata:\n  licence: MIT");
    expect(checkManifest(bad, "v1.13.9").map((p) => p.message)).toEqual([
      'unknown field "metadata.licence"; allowed here: name, version, author, description, compatibility, extraInfo',
      "metadata.version must be a non-empty string",
      "metadata.author must be a non-empty string",
    ]);
  });
});

describe("fos1's least-privilege rules for its agent service (hack/extension/least-privilege.ts)", () => {
  const specPath = join(import.meta.dir, "../../extension/rootfs/usr/local/etc/containers/fos1-agent.yaml");
  const spec = () => parseYaml(readFileSync(specPath, "utf8")) as { container: { args: string[]; entrypoint: string; mounts: { source: string; destination: string; options: string[] }[] } };
  const problems = (edit: (s: ReturnType<typeof spec>) => void) => {
    const s = spec();
    edit(s);
    return checkLeastPrivilege(stringify(s), "fos1-agent.yaml").map((p) => p.message);
  };

  test("the committed spec keeps exactly the documented capabilities and mounts, machined's socket read-only", () => {
    expect(checkLeastPrivilege(readFileSync(specPath, "utf8"), "fos1-agent.yaml")).toEqual([]);
    const s = spec();
    const bounding = s.container.args.find((a) => a.startsWith("--bounding-set="))!;
    expect(bounding.slice("--bounding-set=-all,".length).split(",").map((c) => c.slice(1)).sort()).toEqual([...AGENT_CAPABILITIES].sort());
    expect(Object.fromEntries(s.container.mounts.map((m) => [m.source, m.options.includes("ro") ? "ro" : "rw"]))).toEqual(AGENT_MOUNTS);
  });

  test("the agent reaches the cluster through machined's socket (--cluster talos), which is mounted", () => {
    const s = spec();
    const fos1Args = s.container.args.slice(s.container.args.indexOf("--") + 2);
    expect(fos1Args[0]).toBe("agent");
    expect(fos1Args.join(" ")).toContain("--cluster talos");
    expect(fos1Args).not.toContain("--kubeconfig");
    expect(s.container.mounts.some((m) => m.destination === "/system/run/machined")).toBe(true);
  });

  test("fos1 started directly (all of Talos's capabilities) is refused", () => {
    expect(problems((s) => void (s.container.entrypoint = "/usr/local/bin/fos1"))).toEqual([expect.stringContaining("entrypoint must be /usr/bin/setpriv")]);
  });

  test("a capability beyond the list, or a bounding set that does not start from nothing, is refused", () => {
    const withCap = (extra: string) => problems((s) => void (s.container.args = s.container.args.map((a) => (a.startsWith("--bounding-set=") ? `${a},${extra}` : a))));
    expect(withCap("+sys_module")).toEqual([expect.stringContaining("keeps sys_module, which is not one fos1 uses")]);
    expect(withCap("+dac_override")).toEqual([expect.stringContaining("keeps dac_override")]);
    expect(problems((s) => void (s.container.args = s.container.args.map((a) => a.replace("--bounding-set=-all,", "--bounding-set="))))).toEqual([expect.stringContaining("starting from nothing")]);
    expect(problems((s) => void (s.container.args = s.container.args.filter((a) => a !== "--inh-caps=-all")))).toEqual([expect.stringContaining("inheritable")]);
  });

  test("the host's /run (containerd's socket) or machined's socket writable is refused", () => {
    expect(problems((s) => void s.container.mounts.push({ source: "/run", destination: "/run", options: ["rbind", "rw"] }))).toEqual([expect.stringContaining("mounts the host's /run, which fos1 does not need")]);
    expect(problems((s) => void (s.container.mounts.find((m) => m.source === "/system/run/machined")!.options = ["rbind", "rw"]))).toEqual([expect.stringContaining("mounts /system/run/machined writable")]);
  });
});
