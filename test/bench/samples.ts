/**
 * How long each sample pipeline takes to run as shipped: `distillery run FILE` in a fresh data
 * directory (nothing to reuse), one sample after the other, timed from spawn to exit. Each line
 * prints the wall time, its ratio to that of the reference sample `mnist-mlp` measured in the same
 * invocation, the load average before and after (on a shared machine the times are upper bounds
 * of an idle one's), and where the sample's exports landed (they must lie under the data
 * directory's exports folder).
 *
 * `npx tsx test/bench/samples.ts [NAME…] [--repeats N] [--write]`: NAMEs limit the samples (the
 * reference always runs first); each is run N times (1) and its fastest run counts, the one least
 * disturbed by whatever else the machine runs; `--write` records that time, rounded up to 5 s, as
 * the sample's `expectedSeconds` in resources/pipelines/index.json, which the gallery shows.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunInfo } from '../../preload/contract';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PIPELINES = join(ROOT, 'resources', 'pipelines');
const INDEX = join(PIPELINES, 'index.json');
const REFERENCE = 'mnist-mlp';

interface IndexEntry {
  file: string;
  title: string;
  expectedSeconds: number | null;
  requires: Array<{ debian: string; path: string }>;
}

interface Measured {
  name: string;
  /** Spawn to exit. */
  wallSeconds: number;
  status: string;
  loadBefore: number;
  loadAfter: number;
  exports: string[];
  outside: string[];
}

function runSample(
  file: string,
  dataDir: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const args = [
    '--import',
    'tsx',
    join(ROOT, 'main', 'cli.ts'),
    'run',
    file,
    '--data-dir',
    dataDir,
    '--json',
  ];
  return new Promise((done) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

async function measure(name: string): Promise<Measured> {
  const dataDir = mkdtempSync(join(tmpdir(), `distillery-sample-${name}-`));
  try {
    const loadBefore = loadavg()[0]!;
    const started = performance.now();
    const result = await runSample(join(PIPELINES, `${name}.distillery.json`), dataDir);
    const wallSeconds = (performance.now() - started) / 1000;
    const loadAfter = loadavg()[0]!;
    let run: RunInfo | undefined;
    try {
      run = JSON.parse(result.stdout) as RunInfo;
    } catch {
      process.stderr.write(`${name}: no run record (exit ${result.code})\n${result.stderr.slice(-2000)}\n`);
    }
    const folders = (run?.tasks ?? []).flatMap((task) =>
      typeof task.summary?.outDir === 'string' ? [task.summary.outDir] : [],
    );
    const exportsRoot = join(dataDir, 'exports');
    return {
      name,
      wallSeconds,
      status: run?.status ?? `exit ${result.code}`,
      loadBefore,
      loadAfter,
      exports: folders.map((folder) => relative(dataDir, folder)),
      outside: folders.filter((folder) => relative(exportsRoot, folder).startsWith('..')),
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
const write = args.includes('--write');
const repeatsAt = args.indexOf('--repeats');
const repeats = repeatsAt >= 0 ? Number(args.splice(repeatsAt, 2)[1]) : 1;
if (!Number.isInteger(repeats) || repeats < 1) throw new Error('--repeats needs a positive integer');
const index = JSON.parse(readFileSync(INDEX, 'utf8')) as { samples: IndexEntry[] };
const all = index.samples.map((entry) => entry.file.replace(/\.distillery\.json$/, ''));
const asked = args.filter((arg) => !arg.startsWith('--'));
for (const name of asked)
  if (!all.includes(name)) throw new Error(`No sample "${name}"; samples: ${all.join(', ')}`);
const names = [REFERENCE, ...(asked.length > 0 ? asked : all).filter((name) => name !== REFERENCE)];

process.stdout.write(`${cpus().length} cores; each sample in a fresh data directory, one at a time\n`);
const results: Measured[] = [];
for (const name of names) {
  let best: Measured | undefined;
  for (let repeat = 0; repeat < repeats; repeat++) {
    const measured = await measure(name);
    const faster =
      measured.status === 'done' && (best?.status !== 'done' || measured.wallSeconds < best.wallSeconds);
    if (!best || faster) best = measured;
  }
  const result = best!;
  results.push(result);
  process.stdout.write(
    `${name.padEnd(30)} ${result.wallSeconds.toFixed(1).padStart(6)} s  ` +
      `${(result.wallSeconds / results[0]!.wallSeconds).toFixed(1).padStart(5)}× ${REFERENCE}  ` +
      `${result.status.padEnd(9)} load ${result.loadBefore.toFixed(1)} → ${result.loadAfter.toFixed(1)}` +
      `${result.exports.length ? `  exports: ${result.exports.join(', ')}` : ''}` +
      `${result.outside.length ? `  OUTSIDE the exports folder: ${result.outside.join(', ')}` : ''}\n`,
  );
}

const failed = results.filter((result) => result.status !== 'done' || result.outside.length > 0);
if (write) {
  for (const result of results) {
    const entry = index.samples.find((candidate) => candidate.file === `${result.name}.distillery.json`);
    if (entry && result.status === 'done') entry.expectedSeconds = Math.ceil(result.wallSeconds / 5) * 5;
  }
  writeFileSync(INDEX, `${JSON.stringify(index, null, 2)}\n`);
  process.stdout.write(`Recorded expectedSeconds in ${relative(ROOT, INDEX)} (run prettier on it)\n`);
}
process.exitCode = failed.length > 0 ? 1 : 0;
