// A NIC: never created or deleted by fos1, only adopted. Adopting marks it with the alias
// "fos1:<object>" (links fos1 creates are marked by their group instead), so a NIC the config
// stops naming is known to be fos1's to release.
import { ALIAS_PREFIX, aliasFor } from "../../model";
import type { LinkKindDriver } from "./kind";

export const physical: LinkKindDriver = {
  kind: "physical",
  created: false,
  describe: () => "physical",
  adjust(want, have) {
    const alias = aliasFor(want.ref);
    if (have.alias === alias) return [];
    return [{ detail: have.alias?.startsWith(ALIAS_PREFIX) ? `alias ${have.alias} → ${alias}` : "adopted by fos1", set: { alias } }];
  },
};
