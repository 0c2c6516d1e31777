// DPIProfile (security.fos1.io/v1alpha1): the seed's example validates as written; bad input
// gets one clear problem each (file:line:col, document, Kind/name, field, what is allowed).
import { describe, expect, test } from "bun:test";
import { loadConfigText } from "../../src/api/load";
import { formatProblem } from "../../src/api/problems";

const SEED = `apiVersion: security.fos1.io/v1alpha1
kind: DPIProfile
metadata:
  name: detect-web-traffic
spec:
  applications:
    - http
    - https
  actions:
    allow:
      - http
    block:
      - bittorrent
`;
const ZONE = `---
apiVersion: security.fos1.io/v1alpha1
kind: FirewallZone
metadata: {name: lan}
spec: {}
`;
const profile = (spec: string) => `${ZONE}---\napiVersion: security.fos1.io/v1alpha1\nkind: DPIProfile\nmetadata: {name: p}\nspec:\n${spec.replace(/^/gm, "  ")}\n`;
const problems = (text: string) => loadConfigText(text, "dpi.yaml").problems.map(formatProblem);

describe("the seed's DPIProfile", () => {
  test("validates as written", () => {
    const r = loadConfigText(SEED, "seed.yaml");
    expect(r.problems).toEqual([]);
    expect(r.objects.map((o) => o.ref)).toEqual(["DPIProfile/detect-web-traffic"]);
  });

  test("with zones and domain lists too", () => {
    expect(problems(profile("applications: [http, dns]\nzones: [lan]\ndomains: {allow: [example.com, '*.example.org'], block: [ads.example.net]}"))).toEqual([]);
  });
});

describe("bad DPIProfiles", () => {
  test("an unknown application lists the known ones", () => {
    const [p, ...rest] = problems(profile("applications: [gopher]"));
    expect(rest).toEqual([]);
    expect(p).toStartWith('dpi.yaml:11:18: document 2 (DPIProfile/p) spec.applications[0]: must be one of "http", "https", "http2",');
    expect(p).toEndWith('; got "gopher"');
  });

  test("an empty application list", () => {
    expect(problems(profile("applications: []"))).toEqual(["dpi.yaml:11:17: document 2 (DPIProfile/p) spec.applications: needs at least 1 item"]);
  });

  test("an unknown zone names the declared ones", () => {
    expect(problems(profile("applications: [http]\nzones: [dmz]"))).toEqual(['dpi.yaml:12:11: document 2 (DPIProfile/p) spec.zones[0]: unknown zone "dmz"; declared zones: lan']);
  });

  test("an application both allowed and blocked", () => {
    expect(problems(profile("applications: [http]\nactions: {allow: [http, dns], block: [dns]}"))).toEqual([
      "dpi.yaml:12:41: document 2 (DPIProfile/p) spec.actions.block[0]: dns is both allowed and blocked; keep it in one list",
    ]);
  });

  test("a domain that is not a name", () => {
    const [p] = problems(profile("applications: [dns]\ndomains: {block: ['exa mple.com']}"));
    expect(p).toBe("dpi.yaml:12:21: document 2 (DPIProfile/p) spec.domains.block[0]: must be a domain name, or *.domain for every name under it; got \"exa mple.com\"");
  });

  test("an unknown field", () => {
    const [p] = problems(profile("applications: [http]\nprofile: strict"));
    expect(p).toStartWith('dpi.yaml:12:3: document 2 (DPIProfile/p) spec.profile: unknown field "profile"; allowed here: description, enabled, applications, actions, zones, domains');
  });
});
