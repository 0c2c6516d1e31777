import pkg from "../../package.json" with { type: "json" };
import { libbpfVersion } from "../bpf/libbpf";

export interface VersionInfo {
  version: string;
  commit: string;
  bun: string;
  libbpf: string | null;
}

export function versionInfo(): VersionInfo {
  return {
    version: pkg.version,
    // Stamped by `make build` (bun build --define); a run from source says so.
    commit: process.env.FOS1_COMMIT ?? "unknown (run from source)",
    bun: Bun.version,
    libbpf: libbpfVersion(),
  };
}
