/** The benchmarks' settings from the environment (`BENCH_REPEATS=5 npm run bench:…`). */

/**
 * The number in environment variable `name`, at least `min`; `fallback` when it is unset, empty
 * or not a finite number. A value below `min` is raised to it rather than refused, so a setting
 * of 0 repeats still measures once.
 */
export function numberFromEnv(name: string, fallback: number, min = 0): number {
  const text = process.env[name];
  const value = Number(text);
  return Math.max(
    min,
    text === undefined || text.trim() === '' || !Number.isFinite(value) ? fallback : value,
  );
}
