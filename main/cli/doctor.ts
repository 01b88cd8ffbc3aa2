/**
 * `distillery doctor`: whether this machine can run tasks where the data directory says — the
 * SLURM commands on PATH (sbatch, squeue, scancel, and sinfo, sacct, scontrol), which cluster and
 * partitions answer, whether the run folder is writable and on a filesystem compute nodes can
 * share, and whether `executors.json` is valid. Creates nothing in the data directory.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { serializeError } from '../base/errors';
import { EXECUTORS_CONFIG_FILE, readExecutorsConfig, type ExecutorsConfig } from '../jobs/executors/config';
import { DEFAULT_WARM_WORKERS } from '../jobs/executors/executor-set';
import { SlurmClient } from '../jobs/executors/slurm-client';
import type { SlurmDoctorReport } from '../jobs/executors/slurm-types';

/** What `doctor --json` prints. */
export interface DoctorReport {
  /** True when SLURM can run tasks from here and the config file is valid. */
  ok: boolean;
  dataDir: string;
  config: { file: string; found: boolean; error: string | null; settings: ExecutorsConfig };
  local: { warmWorkers: number };
  slurm: SlurmDoctorReport;
}

/** Checks everything `doctor` reports; never throws. */
export async function doctorReport(
  dataDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<DoctorReport> {
  const file = join(dataDir, EXECUTORS_CONFIG_FILE);
  let settings: ExecutorsConfig = {};
  let error: string | null = null;
  try {
    settings = readExecutorsConfig(dataDir);
  } catch (caught) {
    error = serializeError(caught).message;
  }
  const slurm = await new SlurmClient({ env }).doctor(join(dataDir, 'runs'));
  return {
    ok: slurm.ok && error === null,
    dataDir,
    config: { file, found: existsSync(file), error, settings },
    local: { warmWorkers: settings.local?.warmWorkers ?? DEFAULT_WARM_WORKERS },
    slurm,
  };
}

/** The report as `doctor` prints it without `--json`. */
export function doctorText(report: DoctorReport): string {
  const { slurm } = report;
  const lines = ['SLURM'];
  for (const check of slurm.commands)
    lines.push(`  ${check.command.padEnd(9)}${check.path ?? 'not found on PATH'}`);
  if (slurm.cluster) {
    const records =
      slurm.cluster.accounting === 'slurmdbd'
        ? 'accounting (slurmdbd)'
        : slurm.cluster.accounting === 'job-completion'
          ? 'job-completion records'
          : 'no records of finished jobs beyond squeue';
    lines.push(`  cluster  ${slurm.cluster.name} (SLURM ${slurm.cluster.version}), ${records}`);
  } else {
    lines.push('  cluster  did not answer');
  }
  for (const partition of slurm.partitions) {
    const { idle, total } = partition.nodes;
    lines.push(
      `  partition ${partition.name}${partition.isDefault ? ' (default)' : ''}: ${partition.availability}, ${idle} of ${total} node${total === 1 ? '' : 's'} idle, time limit ${partition.timeLimit}`,
    );
  }
  if (slurm.runFolder) {
    const folder = slurm.runFolder;
    const where = folder.filesystem
      ? `, ${folder.filesystem}${folder.shared ? ' (shared)' : folder.shared === false ? ' (local)' : ''}`
      : '';
    lines.push(
      `  runs     ${folder.path}: ${folder.writable ? 'writable' : 'NOT writable'}${folder.exists ? '' : ' (not created yet)'}${where}`,
    );
  }
  lines.push('', 'Configuration');
  lines.push(
    `  ${report.config.file}: ${report.config.error ?? (report.config.found ? 'valid' : 'none (built-in defaults)')}`,
  );
  if (report.config.settings.default) lines.push(`  default executor ${report.config.settings.default}`);
  lines.push(`  local warm workers ${report.local.warmWorkers}`);
  const problems = [...slurm.problems, ...(report.config.error ? [report.config.error] : [])];
  if (problems.length > 0) lines.push('', 'Problems', ...problems.map((problem) => `  - ${problem}`));
  if (slurm.warnings.length > 0)
    lines.push('', 'Warnings', ...slurm.warnings.map((warning) => `  - ${warning}`));
  lines.push(
    '',
    report.ok
      ? 'Tasks can run on SLURM from here (--executor slurm).'
      : 'Tasks cannot run on SLURM from here yet.',
  );
  return lines.join('\n');
}
