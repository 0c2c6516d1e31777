// Runs inside the lab VM (bundled by vlans.ts, started with BUN_BE_BUN=1 so the fos1
// executable acts as Bun): times the phases of what `fos1 apply` does with the engine's own
// functions, so the VLAN benchmark can say where fos1's time goes beyond the kernel's work.
// Under TCG the first run of any code (JIT included) costs far more than the next, so every
// number that stands for a real command is taken cold: one process per MODE.
//
// Usage: vlan-phases.js CONFIG.yaml MODE — prints one JSON object {ops?, ms}
//   engine   fos1's own order: load + validate, desired state, observe, plan, JSON of the plan
//            (then, warm, the link read and its parse alone)
//   yaml     the `yaml` package's parse of the config alone, as load does it
//   schema   checking one object with the NetworkInterface validator (generated at build time)
//   bunyaml  Bun's native YAML parser on the same text: a candidate replacement
import { LineCounter, parseAllDocuments } from "yaml";
import { loadConfigText } from "../../src/api/load";
import { kinds } from "../../src/api/kinds";
import { checkSchema } from "../../src/api/schema-check";
import { desiredState } from "../../src/engine/desired";
import { observe } from "../../src/engine/apply";
import { parseLinks } from "../../src/engine/links/observe";
import { plan } from "../../src/engine/plan";
import { ms, timed } from "./phase-timer";
import { runToolOk } from "../../src/base/tool";

const [file, mode] = process.argv.slice(2);
if (!file || !mode) throw new Error("usage: vlan-phases CONFIG.yaml engine|yaml|schema|bunyaml");


const text = await Bun.file(file).text();
const out: Record<string, unknown> = {};
switch (mode) {
  case "engine": {
    const loaded = await timed("load", () => loadConfigText(text, file));
    if (loaded.problems.length) throw new Error(`config has problems: ${JSON.stringify(loaded.problems.slice(0, 3))}`);
    const desired = await timed("desiredState", () => desiredState(loaded.objects));
    const observed = await timed("observeHost", () => observe(desired));
    const p = await timed("plan", () => plan(desired, observed));
    await timed("jsonOutput", () => JSON.stringify({ ops: p.ops }, null, 2));
    const linksJson = await timed("ipAddressShowProcess", () => runToolOk({ purpose: "read interfaces", argv: ["ip", "-json", "-details", "address", "show"] }));
    await timed("parseLinks", () => parseLinks(linksJson));
    Object.assign(out, { ops: p.ops.length, linksJsonBytes: linksJson.length });
    break;
  }
  case "yaml":
    await timed("yaml", () => parseAllDocuments(text, { lineCounter: new LineCounter(), uniqueKeys: true }).map((d) => d.toJS()));
    break;
  case "schema": {
    const ni = kinds.find((k) => k.kind === "NetworkInterface")!;
    const first = { apiVersion: ni.apiVersion, kind: ni.kind, metadata: { name: "v1" }, spec: { device: "eth1", vlan: { id: 1 }, addresses: ["10.0.1.1/24"] } };
    await timed("schemaCheck", () => checkSchema(ni.kind, first));
    break;
  }
  case "bunyaml":
    await timed("bunYaml", () => Bun.YAML.parse(text));
    break;
  default:
    throw new Error(`unknown mode ${mode}`);
}
console.log(JSON.stringify({ ...out, ms }));
