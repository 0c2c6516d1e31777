import { expect, test } from "bun:test";
import { table } from "../../src/cli/output";

test("table aligns columns to the widest cell and trims trailing space", () => {
  expect(table(["A", "LONG"], [["xyz", "1"], ["q", ""]])).toBe("A    LONG\nxyz  1\nq\n");
});
