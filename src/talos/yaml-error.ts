import type { YAMLError } from "yaml";

/** A YAML parse error's message without the yaml package's own " at line L, column C:" and excerpt (callers print file:line:col first). */
export function yamlErrorText(err: YAMLError): string {
  return err.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
}
