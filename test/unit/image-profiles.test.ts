// The Talos imager profiles of image/profiles, checked as the imager would decode and
// validate them (hack/image/profile.ts), and rendered with the pushed extension's reference.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse } from "yaml";
import { checkProfile, EXTENSION_PLACEHOLDER, renderProfile } from "../../hack/image/profile";

const dir = resolve(import.meta.dir, "../../image/profiles");
const read = (name: string) => readFileSync(resolve(dir, `${name}.yaml`), "utf8");
const IMAGE = "registry.example/lab/fos1-extension:0.1.0";

interface Profile {
  baseProfileName?: string;
  output: { kind: string };
  customization?: { extraKernelArgs?: string[] };
  input?: { systemExtensions?: { imageRef: string; forceInsecure?: boolean }[] };
}
const rendered = (name: string, insecure = false) => parse(renderProfile(read(name), IMAGE, insecure)) as Profile;

describe("image/profiles", () => {
  test("there is one profile per medium: ISO, raw disk, installer and the three PXE assets", () => {
    expect(readdirSync(dir).sort()).toEqual(["installer.yaml", "iso.yaml", "pxe-cmdline.yaml", "pxe-initramfs.yaml", "pxe-kernel.yaml", "raw.yaml"]);
  });

  test.each([
    ["iso", "iso", "iso"],
    ["raw", "metal", "image"],
    ["installer", "installer", "installer"],
    ["pxe-kernel", undefined, "kernel"],
    ["pxe-initramfs", undefined, "initramfs"],
    ["pxe-cmdline", undefined, "cmdline"],
  ])("%s parses, passes the imager's checks and builds a %s-based %s", (name, base, kind) => {
    const profile = parse(read(name)) as Profile;
    expect(checkProfile(profile)).toEqual([]);
    expect(profile.baseProfileName).toBe(base);
    expect(profile.output.kind).toBe(kind);
  });

  test.each(["iso", "raw", "installer", "pxe-initramfs"])("%s carries the fos1 extension, filled in with the pushed image", (name) => {
    expect((parse(read(name)) as Profile).input?.systemExtensions).toEqual([{ imageRef: EXTENSION_PLACEHOLDER }]);
    expect(rendered(name).input?.systemExtensions).toEqual([{ imageRef: IMAGE }]);
    expect(rendered(name, true).input?.systemExtensions).toEqual([{ imageRef: IMAGE, forceInsecure: true }]);
  });

  test.each(["iso", "raw", "installer", "pxe-cmdline"])("%s boots with eth0… names, as fos1's default config and the management LinkConfig expect", (name) => {
    expect(rendered(name).customization?.extraKernelArgs).toContain("net.ifnames=0");
  });
});

describe("checkProfile refuses what the imager refuses", () => {
  const base = () => parse(read("pxe-initramfs")) as Record<string, unknown>;

  test("kernel arguments on a kernel or initramfs output", () => {
    expect(checkProfile({ ...base(), customization: { extraKernelArgs: ["net.ifnames=0"] } })).toEqual([
      "customization.extraKernelArgs: the imager refuses kernel arguments for initramfs output (put them in the cmdline profile)",
    ]);
  });

  test("a misspelt field, an unknown output kind, a missing arch, an unknown base profile", () => {
    const problems = checkProfile({ ...base(), arch: undefined, baseProfileName: "metal-iso", output: { kind: "floppy", outFormat: "raw" }, inputs: {} });
    expect(problems).toContain('unknown field "inputs"; allowed here: baseProfileName, arch, platform, secureboot, name, version, customization, input, overlay, output');
    expect(problems).toContain('output.kind must be one of iso, image, installer, kernel, initramfs, uki, cmdline; got "floppy"');
    expect(problems.some((p) => p.startsWith("arch must be amd64 or arm64"))).toBe(true);
    expect(problems.some((p) => p.startsWith("baseProfileName must be one of"))).toBe(true);
  });

  test("an image output with no disk size and no base profile to take it from", () => {
    expect(checkProfile({ arch: "amd64", platform: "metal", output: { kind: "image", outFormat: ".zst" } })).toEqual([
      "output.imageOptions.diskSize is required for image output (or start from baseProfileName: metal)",
    ]);
  });

  test("renderProfile throws with every problem rather than hand the imager a bad profile", () => {
    expect(() => renderProfile("arch: sparc\nplatform: metal\noutput: {kind: iso}\n", IMAGE)).toThrow('arch must be amd64 or arm64 (the imager has no default when the profile comes on standard input); got "sparc"');
  });
});
