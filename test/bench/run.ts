/**
 * `npm run bench`: every benchmark in turn (training throughput, compression fidelity, diffusion, …),
 * each printing its figures as ratios against a reference measured in the same invocation.
 * `npm run bench -- train` runs only the named ones.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The cluster bench needs a SLURM cluster (test/cluster/slurm.sh start): run it by name.
const ALL = [
  'train',
  'compress',
  'diffusion',
  'runs-table',
  'validate',
  'quantize',
  'merge',
  'sweep',
  'sweep-view',
  'warm-workers',
  'samples',
];
const chosen = process.argv.slice(2).filter((name) => !name.startsWith('-'));
const names = chosen.length > 0 ? chosen : ALL;
let failed = 0;
for (const name of names) {
  const file = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  if (!existsSync(file)) {
    process.stderr.write(`bench: no benchmark "${name}" (expected ${file})\n`);
    failed++;
    continue;
  }
  process.stdout.write(`\n=== bench:${name} ===\n`);
  const started = Date.now();
  const result = spawnSync(process.execPath, ['--import', 'tsx', file], { stdio: 'inherit' });
  process.stdout.write(
    `=== bench:${name} ${result.status === 0 ? 'finished' : `FAILED (${result.status})`} in ${((Date.now() - started) / 1000).toFixed(0)} s ===\n`,
  );
  if (result.status !== 0) failed++;
}
process.exitCode = failed > 0 ? 1 : 0;
