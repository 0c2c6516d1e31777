// The Talos imager profiles of image/profiles: fills in the extension image and checks a
// profile the way the imager (Talos v1.13.9, pkg/imager/profile) would decode and validate
// it, so a typo fails here and not after a 1 GB image download. Pure but for the CLI below.
//   bun hack/image/profile.ts PROFILE.yaml EXTENSION_IMAGE [--insecure]   prints the profile
import { readFileSync } from "node:fs";
import { parse, stringify } from "yaml";

/** What a profile writes where the pushed extension's reference goes. */
export const EXTENSION_PLACEHOLDER = "${FOS1_EXTENSION_IMAGE}";

type Mapping = Record<string, unknown>;

// Field names of the imager's Profile and its parts (profile.go, input.go, output.go,
// customization.go); a name not here would be ignored by its YAML decoder.
const FIELDS: Record<string, string[]> = {
  "": ["baseProfileName", "arch", "platform", "secureboot", "name", "version", "customization", "input", "overlay", "output"],
  customization: ["extraKernelArgs", "metaContents", "embeddedMachineConfiguration"],
  input: ["kernel", "initramfs", "sdStub", "sdBoot", "baseInstaller", "imageCache", "overlayInstaller", "secureboot", "systemExtensions"],
  output: ["kind", "imageOptions", "isoOptions", "outFormat"],
  "output.imageOptions": ["diskSize", "diskFormat", "diskFormatOptions", "bootloader"],
  "output.isoOptions": ["sdBootEnrollKeys", "bootloader"],
};
const CONTAINER_ASSET = ["imageRef", "forceInsecure", "tarballPath", "ociPath"];
const OUTPUT_KINDS = ["iso", "image", "installer", "kernel", "initramfs", "uki", "cmdline"];
const OUT_FORMATS = ["raw", ".tar.gz", ".xz", ".gz", ".zst"];
/** The imager's built-in profiles (default.go) a profile may start from. */
const BASE_PROFILES = ["iso", "secureboot-iso", "metal", "metal-uki", "secureboot-metal-uki", "secureboot-metal", "installer", "secureboot-installer"];

/** What is wrong with a profile (Profile.Validate and the decoder's field names); [] when fine. */
export function checkProfile(profile: unknown): string[] {
  if (!isMapping(profile)) return ["a profile must be a YAML mapping"];
  const problems: string[] = [];
  for (const [path, allowed] of Object.entries(FIELDS)) {
    const m = path === "" ? profile : at(profile, path);
    if (m === undefined) continue;
    if (!isMapping(m)) {
      problems.push(`${path} must be a mapping`);
      continue;
    }
    for (const k of Object.keys(m)) if (!allowed.includes(k)) problems.push(`unknown field "${path ? `${path}.` : ""}${k}"; allowed here: ${allowed.join(", ")}`);
  }
  const base = profile.baseProfileName;
  if (base !== undefined && !BASE_PROFILES.includes(base as string)) problems.push(`baseProfileName must be one of the imager's profiles (${BASE_PROFILES.join(", ")}); got ${JSON.stringify(base)}`);
  if (profile.arch !== "amd64" && profile.arch !== "arm64") problems.push(`arch must be amd64 or arm64 (the imager has no default when the profile comes on standard input); got ${JSON.stringify(profile.arch)}`);
  if (typeof profile.platform !== "string" || profile.platform === "") problems.push("platform is required (metal for bare-metal routers)");
  const kind = at(profile, "output.kind");
  if (!OUTPUT_KINDS.includes(kind as string)) problems.push(`output.kind must be one of ${OUTPUT_KINDS.join(", ")}; got ${JSON.stringify(kind)}`);
  const format = at(profile, "output.outFormat");
  if (format !== undefined && !OUT_FORMATS.includes(format as string)) problems.push(`output.outFormat must be one of ${OUT_FORMATS.join(", ")}; got ${JSON.stringify(format)}`);
  const kernelArgs = at(profile, "customization.extraKernelArgs");
  const meta = at(profile, "customization.metaContents");
  if (kernelArgs !== undefined && !(Array.isArray(kernelArgs) && kernelArgs.every((a) => typeof a === "string"))) problems.push("customization.extraKernelArgs must be a list of strings");
  if ((kind === "kernel" || kind === "initramfs") && kernelArgs !== undefined) problems.push(`customization.extraKernelArgs: the imager refuses kernel arguments for ${kind} output (put them in the cmdline profile)`);
  if ((kind === "kernel" || kind === "initramfs" || kind === "installer") && meta !== undefined) problems.push(`customization.metaContents: the imager refuses META contents for ${kind} output`);
  if (kind === "image" && base === undefined && !(Number(at(profile, "output.imageOptions.diskSize")) > 0)) problems.push("output.imageOptions.diskSize is required for image output (or start from baseProfileName: metal)");
  const extensions = at(profile, "input.systemExtensions");
  if (extensions !== undefined) {
    if (!Array.isArray(extensions)) problems.push("input.systemExtensions must be a list");
    else
      extensions.forEach((e, i) => {
        if (!isMapping(e)) return problems.push(`input.systemExtensions[${i}] must be a mapping`);
        for (const k of Object.keys(e)) if (!CONTAINER_ASSET.includes(k)) problems.push(`unknown field "input.systemExtensions[${i}].${k}"; allowed here: ${CONTAINER_ASSET.join(", ")}`);
        if (typeof e.imageRef !== "string" || e.imageRef === "") problems.push(`input.systemExtensions[${i}].imageRef must name an image`);
      });
  }
  const cache = at(profile, "input.imageCache");
  if (cache !== undefined) {
    if (!isMapping(cache)) problems.push("input.imageCache must be a mapping");
    else {
      for (const k of Object.keys(cache)) if (!CONTAINER_ASSET.includes(k)) problems.push(`unknown field "input.imageCache.${k}"; allowed here: ${CONTAINER_ASSET.join(", ")}`);
      // The imager puts a cache on ISO and disk-image media only.
      if (kind !== "iso" && kind !== "image") problems.push(`input.imageCache: the imager carries an image cache on iso and image output only; got ${JSON.stringify(kind)}`);
    }
  }
  return problems;
}

/** The profile with the extension's reference filled in; throws naming every problem. */
export function renderProfile(text: string, extensionImage: string, insecure = false): string {
  const profile = parse(text) as unknown;
  const problems = checkProfile(profile);
  if (problems.length > 0) throw new Error(problems.join("\n"));
  const extensions = at(profile, "input.systemExtensions") as Mapping[] | undefined;
  for (const e of extensions ?? []) {
    if (e.imageRef !== EXTENSION_PLACEHOLDER) continue;
    e.imageRef = extensionImage;
    // A registry without TLS (a lab's localhost:5000) is only read with this.
    if (insecure) e.forceInsecure = true;
  }
  return stringify(profile, { lineWidth: 0 });
}

function isMapping(v: unknown): v is Mapping {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function at(v: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((o, k) => (isMapping(o) ? o[k] : undefined), v);
}

if (import.meta.main) {
  const [file, image, ...rest] = process.argv.slice(2);
  if (!file || !image || rest.some((a) => a !== "--insecure")) {
    console.error("usage: bun hack/image/profile.ts PROFILE.yaml EXTENSION_IMAGE [--insecure]");
    process.exit(2);
  }
  try {
    process.stdout.write(renderProfile(readFileSync(file, "utf8"), image, rest.includes("--insecure")));
  } catch (err) {
    console.error(`${file}: ${(err as Error).message.replaceAll("\n", `\n${file}: `)}`);
    process.exit(1);
  }
}
