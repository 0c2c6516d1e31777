// The string formats fos1's schemas name ("format": "cidr"), as the validators check them.
import { parseIp, parsePrefix } from "./ip";

export const formats = {
  cidr: (s: string) => parsePrefix(s) !== null,
  ip: (s: string) => parseIp(s) !== null,
};
