// Talos's extension rules as hack/extension/talos-rules.ts re-states them (v1.13.9 source);
// test/bats/extension.bats runs them on the built image and on broken copies of it.
import { describe, expect, test } from "bun:test";
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
