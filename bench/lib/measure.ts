// Timing helpers shared by the benchmarks: wall-clock rate and this process's CPU per item.

/** Runs `run` once (after a GC when --expose-gc is on) and gives items per second and CPU µs per item. */
export async function measure(items: number, run: () => Promise<void>): Promise<{ rate: number; cpuMicros: number }> {
  globalThis.gc?.();
  const cpu = process.cpuUsage();
  const started = performance.now();
  await run();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { rate: items / seconds, cpuMicros: (used.user + used.system) / items };
}

/** The median of a non-empty list (the upper one of the two middle values for an even count). */
export const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
