// Checks an unpacked Talos system extension (a folder holding manifest.yaml and rootfs/, as
// the image's filesystem) against Talos's rules (talos-rules.ts), and fos1's agent service
// against fos1's least-privilege rules (least-privilege.ts), and prints one line per problem. Exit 0 when it would install, 1 when not, 2 on a usage error.
//   bun hack/extension/validate.ts DIR
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { parse as parseYaml } from "yaml";
import { checkLeastPrivilege } from "./least-privilege";
import { checkContents, checkManifest, checkServiceSpec, TALOS_RELEASE, type Problem, type RootfsEntry } from "./talos-rules";

const SPEC_DIR = "usr/local/etc/containers";
const CONTAINERS_DIR = "usr/local/lib/containers";
const AGENT_SERVICE = "fos1-agent";

export function validateExtension(dir: string): Problem[] {
  const problems: Problem[] = [];
  // load.go: the image's root holds exactly these two.
  for (const name of readdirSync(dir)) {
    if (name !== "manifest.yaml" && name !== "rootfs") problems.push({ where: name, message: "unexpected file at the extension's root; Talos allows only manifest.yaml and rootfs/" });
  }
  const manifest = join(dir, "manifest.yaml");
  if (!existsSync(manifest)) problems.push({ where: "manifest.yaml", message: "is missing" });
  else problems.push(...checkManifest(readFileSync(manifest, "utf8"), TALOS_RELEASE));
  const rootfs = join(dir, "rootfs");
  if (!existsSync(rootfs)) {
    problems.push({ where: "rootfs", message: "is missing" });
    return problems;
  }
  problems.push(...checkContents(walk(rootfs)));
  problems.push(...checkServices(rootfs));
  return problems;
}

function walk(root: string): RootfsEntry[] {
  const entries: RootfsEntry[] = [];
  const visit = (abs: string) => {
    for (const name of readdirSync(abs).sort()) {
      const p = join(abs, name);
      const st = lstatSync(p);
      const type = st.isDirectory() ? "directory" : st.isFile() ? "file" : st.isSymbolicLink() ? "symlink" : "special";
      entries.push({ path: `/${relative(root, p)}`, type, mode: st.mode & 0o7777 });
      if (type === "directory") visit(p);
    }
  };
  visit(root);
  return entries;
}

/** Every service spec, and that its root holds its entrypoint as an executable file. */
function checkServices(rootfs: string): Problem[] {
  const specDir = join(rootfs, SPEC_DIR);
  if (!existsSync(specDir)) return [];
  const problems: Problem[] = [];
  for (const file of readdirSync(specDir).filter((f) => f.endsWith(".yaml"))) {
    const name = basename(file, ".yaml");
    const where = `rootfs/${SPEC_DIR}/${file}`;
    const text = readFileSync(join(specDir, file), "utf8");
    problems.push(...checkServiceSpec(text, name, where));
    if (name === AGENT_SERVICE) problems.push(...checkLeastPrivilege(text, where));
    const serviceRoot = join(rootfs, CONTAINERS_DIR, name);
    if (!existsSync(serviceRoot)) {
      problems.push({ where, message: `the service's root rootfs/${CONTAINERS_DIR}/${name}/ is missing` });
      continue;
    }
    const entrypoint = entrypointOf(text);
    if (typeof entrypoint === "string" && !isExecutableIn(serviceRoot, entrypoint)) {
      problems.push({ where, message: `container.entrypoint ${entrypoint} is not an executable file in the service's root rootfs/${CONTAINERS_DIR}/${name}/` });
    }
  }
  return problems;
}

function entrypointOf(specText: string): unknown {
  try {
    return (parseYaml(specText) as { container?: { entrypoint?: unknown } } | null)?.container?.entrypoint;
  } catch {
    return undefined; // checkServiceSpec reports the YAML error
  }
}

/** Follows path inside root the way the container sees it: absolute links point into root. */
function isExecutableIn(root: string, path: string): boolean {
  let p = join(root, path);
  for (let hops = 0; hops < 16; hops++) {
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st) return false;
    if (!st.isSymbolicLink()) return st.isFile() && (st.mode & 0o111) !== 0;
    const target = readlinkSync(p);
    p = target.startsWith("/") ? join(root, target) : join(p, "..", target);
  }
  return false;
}

if (import.meta.main) {
  const dir = process.argv[2];
  if (!dir || process.argv.length > 3 || !existsSync(dir) || !statSync(dir).isDirectory()) {
    console.error("usage: bun hack/extension/validate.ts DIR   (DIR holds manifest.yaml and rootfs/)");
    process.exit(2);
  }
  const problems = validateExtension(dir);
  for (const p of problems) console.error(`${p.where}: ${p.message}`);
  if (problems.length > 0) {
    console.error(`${problems.length} problem${problems.length === 1 ? "" : "s"}: Talos would refuse this extension`);
    process.exit(1);
  }
  console.error(`extension: valid for Talos ${TALOS_RELEASE} (${dir})`);
}
