// make talos-config: the machine config of a single-node fos1 router, from
//   talos-patches/*.yaml             Cilium as CNI (dual stack), sysctls, modules, the management link, firewall
//   the fos1 config's openings       Talos's ingress rules under its block default (ingress-rules.ts)
//   machine.features.imageCache      on: Talos takes images from the media's image cache (make image)
//   deploy/                          cluster.inlineManifests: Cilium's install Job, fos1's CRDs, the agent's
//                                    RBAC and the controller (inline-manifests.ts); the controller's image
//                                    is REGISTRY/fos1-controller:VERSION when REGISTRY is set
//   the fos1 config                  FOS1_CONFIG, default src/api/default-config.yaml (fos1 defaults),
//                                    carried by an ExtensionServiceConfig to where the service reads it
//   talos-patches/example/controlplane.yaml   the single-node example the patches apply to
// into OUT (TALOS_CONFIG_OUT, default dist/talos):
//   patches.yaml       every patch in one multi-document file, for talosctl --config-patch
//   controlplane.yaml  with talosctl: `talosctl gen config` output, secrets included (and
//                      talosconfig); without: the example with the patches merged in, no secrets
// Every document is checked against Talos's schema first; a bad one writes nothing.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import { loadConfigText } from "../../src/api/load";
import { formatProblem } from "../../src/api/problems";
import { CONTROLLER_IMAGE, controllerImage } from "../../src/cluster/deploy-files";
import { agentConfigPath, applyPatches, docKey, extensionServiceConfig, merge, parseStream, toStream, type Doc } from "./config-set";
import { clusterManifests } from "./inline-manifests";
import { talosIngressRules } from "./ingress-rules";
import { TalosSchema } from "./schema";

const repo = resolve(import.meta.dir, "../..");
export const PATCH_DIR = join(repo, "talos-patches");
export const EXAMPLE = join(PATCH_DIR, "example/controlplane.yaml");
export const SERVICE_SPEC = join(repo, "extension/rootfs/usr/local/etc/containers/fos1-agent.yaml");
export const DEFAULT_FOS1_CONFIG = join(repo, "src/api/default-config.yaml");

export interface RenderOptions {
  out: string;
  fos1Config: string;
  /** Where `make controller-image-push` put the controller's image; null keeps the placeholder. */
  registry: string | null;
  /** talosctl's path, or null to render without it. */
  talosctl: string | null;
  schema: TalosSchema;
}

/** The committed patches, one entry per file, each document checked against the schema. */
export function readPatches(schema: TalosSchema): { file: string; docs: Doc[] }[] {
  return readdirSync(PATCH_DIR)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => ({ file: `talos-patches/${f}`, docs: parseStream(readFileSync(join(PATCH_DIR, f), "utf8"), `talos-patches/${f}`) }))
    .map((p) => (assertValid(schema, p.file, p.docs), p));
}

/**
 * Every patch as one stream: the legacy (v1alpha1) patches, with the cluster's inline manifests,
 * merged into one document, as talosctl wants.
 */
export function patchSet(schema: TalosSchema, fos1ConfigPath: string, image: string | null): Doc[] {
  const fos1Text = readFileSync(fos1ConfigPath, "utf8");
  const loaded = loadConfigText(fos1Text, fos1ConfigPath);
  if (loaded.problems.length > 0) throw new Error(`${fos1ConfigPath} is not a valid fos1 config:\n${loaded.problems.map(formatProblem).join("\n")}`);
  const { service, configPath } = agentConfigPath(parse(readFileSync(SERVICE_SPEC, "utf8")));
  const inline: Doc = { cluster: { inlineManifests: clusterManifests(repo, image) } };
  // The ISO and disk image carry an image cache (image/profiles, hack/image/cache-images.ts);
  // Talos reads images from it only when this is on.
  const imageCache: Doc = { machine: { features: { imageCache: { localEnabled: true } } } };
  const docs = [...readPatches(schema).flatMap((p) => p.docs), ...talosIngressRules(loaded.objects), inline, imageCache, extensionServiceConfig(service, configPath, fos1Text)];
  const legacy = docs.filter((d) => docKey(d) === "v1alpha1").reduce<unknown>((a, d) => merge(a, d), {}) as Doc;
  const set = [legacy, ...docs.filter((d) => docKey(d) !== "v1alpha1")];
  assertValid(schema, "the patch set", set);
  return set;
}

export async function render(opts: RenderOptions): Promise<string> {
  const image = opts.registry === null ? null : controllerImage(opts.registry);
  const patches = patchSet(opts.schema, opts.fos1Config, image);
  const example = parseStream(readFileSync(EXAMPLE, "utf8"), "talos-patches/example/controlplane.yaml");
  assertValid(opts.schema, "talos-patches/example/controlplane.yaml", example);
  mkdirSync(opts.out, { recursive: true });
  const patchFile = join(opts.out, "patches.yaml");
  writeFileSync(patchFile, toStream(patches));
  const controlplane = join(opts.out, "controlplane.yaml");
  // The cluster's name and endpoint are arguments of talosctl gen config, not patch fields.
  const cluster = (example[0]?.cluster ?? {}) as { clusterName?: string; controlPlane?: { endpoint?: string } };
  const genConfig = ["gen", "config", cluster.clusterName ?? "fos1", cluster.controlPlane?.endpoint ?? "https://192.168.99.1:6443",
    "--config-patch", `@${EXAMPLE}`, "--config-patch", `@${patchFile}`, "--output-types", "controlplane,talosconfig", "--output", opts.out];

  if (opts.talosctl) {
    const proc = Bun.spawnSync([opts.talosctl, ...genConfig, "--force", "--with-docs=false", "--with-examples=false"], { stdout: "pipe", stderr: "pipe" });
    if (proc.exitCode !== 0) throw new Error(`talosctl gen config failed: ${proc.stderr.toString().trim()}`);
    assertValid(opts.schema, controlplane, parseStream(readFileSync(controlplane, "utf8"), controlplane));
    return `talos-config: ${controlplane} and ${join(opts.out, "talosconfig")} (talosctl gen config, with secrets); apply with\n  talosctl apply-config --insecure --nodes <address> --file ${controlplane}\n${imageNote(image)}`;
  }

  const merged = applyPatches(example, patches);
  assertValid(opts.schema, controlplane, merged);
  const howTo = `talosctl ${genConfig.join(" ")}`;
  writeFileSync(controlplane, `# The example with the fos1 patches merged in, WITHOUT secrets (talosctl was not installed):\n# a reference, not a config to apply. With talosctl, make talos-config again, or run\n#   ${howTo}\n${toStream(merged)}`);
  return `talos-config: ${controlplane} (the example with the patches merged in; no secrets: talosctl is not installed) and ${patchFile}.\nFor a config to apply, install talosctl and run make talos-config again, or:\n  ${howTo}\n${imageNote(image)}`;
}

function imageNote(image: string | null): string {
  if (image !== null) return `The controller's Deployment runs ${image} (make controller-image-push with the same REGISTRY puts it there).`;
  return `The controller's Deployment names the placeholder image ${CONTROLLER_IMAGE}, which no registry holds: push the image with make controller-image-push REGISTRY=… and render with make talos-config REGISTRY=… (the same REGISTRY).`;
}

function assertValid(schema: TalosSchema, where: string, docs: Doc[]): void {
  const problems = docs.flatMap((d, i) => schema.check(d).map((p) => `${where}: document ${i + 1} (${docKey(d)}): ${p}`));
  if (problems.length > 0) throw new Error(`not valid against Talos's machine-config schema:\n${problems.join("\n")}`);
}

if (import.meta.main) {
  try {
    const message = await render({
      out: resolve(process.env.TALOS_CONFIG_OUT ?? join(repo, "dist/talos")),
      fos1Config: resolve(process.env.FOS1_CONFIG ?? DEFAULT_FOS1_CONFIG),
      registry: process.env.REGISTRY || null,
      talosctl: Bun.which("talosctl"),
      schema: TalosSchema.load(),
    });
    console.error(message);
  } catch (err) {
    console.error(`talos-config: ${(err as Error).message}`);
    process.exit(1);
  }
}
