// Cross-object checks of DPIProfile: zones that exist, and no application or domain both
// allowed and blocked (one of the two would silently lose).
import type { LoadedObject } from "../load";
import type { ConfigObject } from "../kinds";
import { problemAt, type ConfigProblem, type FieldPath } from "../problems";
import type { DPIProfileT } from "../schema/dpi";

export function checkDpi(objects: LoadedObject<ConfigObject>[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const report = (o: LoadedObject, path: FieldPath, message: string) => problems.push(problemAt(o.source, o.ref, path, message));
  const zones = objects.filter((o) => o.value.kind === "FirewallZone").map((o) => o.value.metadata.name);
  for (const p of objects.filter((o) => o.value.kind === "DPIProfile") as LoadedObject<DPIProfileT>[]) {
    const s = p.value.spec;
    (s.zones ?? []).forEach((z, n) => {
      if (!zones.includes(z)) report(p, ["spec", "zones", n], `unknown zone "${z}"; ${zones.length ? `declared zones: ${zones.join(", ")}` : "no FirewallZone is declared"}`);
    });
    const clash = (field: "actions" | "domains") => {
      const allow = s[field]?.allow ?? [];
      (s[field]?.block ?? []).forEach((x, n) => {
        if (allow.includes(x as never)) report(p, ["spec", field, "block", n], `${x} is both allowed and blocked; keep it in one list`);
      });
    };
    clash("actions");
    clash("domains");
  }
  return problems;
}
