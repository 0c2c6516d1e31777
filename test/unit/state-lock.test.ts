// One writer of the state dir at a time (src/apply/lock.ts): the flock(2) on <state dir>/lock
// that fos1 apply, confirm, rollback and the agent take. A second writer waits its --wait,
// then exits 1 naming the holder; a holder that dies frees the lock at once. Nothing here
// needs root: the lock is taken before anything touches the kernel.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { StateDirBusy, StateLock } from "../../src/apply/lock";
import { fos1, logMessages } from "../helpers/fos1";

const dir = mkdtempSync(join(tmpdir(), "fos1-lock-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const LOCK = resolve(import.meta.dir, "../../src/apply/lock.ts");

/** Another process holding the lock as a fos1 writer would, until killed. */
async function holder(state: string, command: string) {
  const script = `const { StateLock } = await import(${JSON.stringify(LOCK)}); await StateLock.acquire(process.argv.at(-2), process.argv.at(-1), 1000); console.log("held"); await new Promise(() => {});`;
  const p = Bun.spawn([process.execPath, "-e", script, state, command], { stdout: "pipe", stderr: "inherit" });
  const reader = p.stdout.getReader();
  expect(new TextDecoder().decode((await reader.read()).value)).toContain("held");
  return p;
}

describe("the state dir's lock", () => {
  test("a second writer waits its --wait, then exits 1 naming the holder's pid and command; nothing else happened", async () => {
    const state = join(dir, "busy");
    const config = join(dir, "c.yaml");
    writeFileSync(config, "apiVersion: network.fos1.io/v1alpha1\nkind: NetworkInterface\nmetadata: {name: a}\nspec: {device: eth0}\n");
    const p = await holder(state, "fos1 apply -f big.yaml");
    try {
      const started = performance.now();
      const r = await fos1(["apply", "-f", config, "--state-dir", state, "--wait", "1s"]);
      expect(r.exitCode).toBe(1);
      expect(performance.now() - started).toBeGreaterThanOrEqual(1000);
      expect(logMessages(r)).toContain(`the state dir ${state} is in use by pid ${p.pid} (fos1 apply -f big.yaml)`);
      expect(logMessages(r)).toContain("waited 1 s");
      for (const args of [["confirm"], ["rollback"]]) {
        const c = await fos1([...args, "--state-dir", state, "--wait", "1s"]);
        expect({ args, exit: c.exitCode, says: logMessages(c).includes(`is in use by pid ${p.pid}`) }).toEqual({ args, exit: 1, says: true });
      }
    } finally {
      p.kill("SIGKILL");
      await p.exited;
    }
    // The holder died: its lock went with it, and the next writer takes it at once.
    const started = performance.now();
    const lock = await StateLock.acquire(state, "test", 0);
    expect(performance.now() - started).toBeLessThan(500);
    lock.release();
  });

  test("within one process too: the lock is per open file, so a second taker waits", async () => {
    const state = join(dir, "self");
    const first = await StateLock.acquire(state, "first", 0);
    const second = StateLock.acquire(state, "second", 200);
    expect(second).rejects.toBeInstanceOf(StateDirBusy);
    await second.catch(() => {});
    first.release();
    (await StateLock.acquire(state, "third", 0)).release();
  });

  test("--wait takes a duration", async () => {
    const r = await fos1(["confirm", "--state-dir", join(dir, "x"), "--wait", "soon"]);
    expect(r.exitCode).toBe(2);
    expect(logMessages(r)).toContain('--wait takes a duration like 30s or 2m; got "soon"');
  });
});
