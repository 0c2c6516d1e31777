// Times named steps of the engine for the phase benchmarks (vlan-phases, firewall-phases).
export const ms: Record<string, number> = {};

export async function timed<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
  const t = performance.now();
  const out = await fn();
  ms[name] = performance.now() - t;
  return out;
}
