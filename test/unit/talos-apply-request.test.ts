// What fos1 talos apply-config sends: the mode with TRY's timeout, and the file refused before
// it reaches Talos when it cannot be a machine config.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { ApplyRequestError, applyRequest, machineConfigProblems } from "../../src/talos/apply-request";

const data = new Uint8Array([1, 2, 3]);

describe("applyRequest", () => {
  test("--try 90s: mode TRY with a 90 s timeout", () => {
    expect(applyRequest(data, { tryTimeout: "90s", dryRun: false })).toEqual({ data, mode: "TRY", dry_run: false, try_mode_timeout: { seconds: 90, nanos: 0 } });
  });

  test("--mode try alone: talosctl's one minute", () => {
    expect(applyRequest(data, { mode: "try", dryRun: false }).try_mode_timeout).toEqual({ seconds: 60, nanos: 0 });
  });

  test("the other modes carry no timeout; auto is the default", () => {
    expect(applyRequest(data, { dryRun: true })).toEqual({ data, mode: "AUTO", dry_run: true });
    expect(applyRequest(data, { mode: "no-reboot", dryRun: false }).mode).toBe("NO_REBOOT");
    expect(applyRequest(data, { mode: "staged", dryRun: false }).mode).toBe("STAGED");
    expect(applyRequest(data, { mode: "reboot", dryRun: false }).mode).toBe("REBOOT");
  });

  test("contradictions and bad values are refused, saying what is allowed", () => {
    expect(() => applyRequest(data, { mode: "reboot", tryTimeout: "90s", dryRun: false })).toThrow("--try goes with mode try, not --mode reboot");
    expect(() => applyRequest(data, { mode: "TRY", dryRun: false })).toThrow('--mode must be one of auto, no-reboot, reboot, staged, try; got "TRY"');
    expect(() => applyRequest(data, { tryTimeout: "soon", dryRun: false })).toThrow(ApplyRequestError);
    expect(() => applyRequest(data, { tryTimeout: "0s", dryRun: false })).toThrow('--try takes a duration like 90s, 5m or 1h; got "0s"');
  });
});

describe("machineConfigProblems", () => {
  test("the repository's example machine config passes", () => {
    const file = new URL("../../talos-patches/example/controlplane.yaml", import.meta.url).pathname;
    expect(machineConfigProblems(readFileSync(file, "utf8"), "controlplane.yaml")).toEqual([]);
  });

  test("YAML that does not parse: the first error of the document, with line:col", () => {
    expect(machineConfigProblems("version: v1alpha1\nmachine:\n  type: [controlplane\n", "mc.yaml")).toEqual([
      expect.stringMatching(/^mc\.yaml:\d+:\d+: document 1: YAML: /),
    ]);
  });

  test("a fos1 object given by mistake is named as one", () => {
    const text = "version: v1alpha1\nmachine: {}\n---\napiVersion: network.fos1.io/v1alpha1\nkind: NetworkInterface\nmetadata: {name: wan}\n";
    expect(machineConfigProblems(text, "mc.yaml")).toEqual([
      "mc.yaml:4:1: document 2: not a Talos machine config document: expected version: v1alpha1, or apiVersion: v1alpha1 with a kind (network.fos1.io/v1alpha1 NetworkInterface is a fos1 object: fos1 apply -f takes those)",
    ]);
  });

  test("a patch or a lone document without the v1alpha1 one, and an empty file", () => {
    const expected = "mc.yaml: no v1alpha1 document (version: v1alpha1, with machine and cluster): Talos takes a whole machine config, not a patch or a single document";
    expect(machineConfigProblems("apiVersion: v1alpha1\nkind: HostnameConfig\nhostname: r1\n", "mc.yaml")).toEqual([expected]);
    expect(machineConfigProblems("", "mc.yaml")).toEqual([expected]);
    expect(machineConfigProblems("- a\n", "mc.yaml")).toEqual(["mc.yaml:1:1: document 1: a machine config document is a mapping"]);
  });
});
