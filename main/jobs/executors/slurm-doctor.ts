/**
 * `doctor()`: whether tasks can run on SLURM from here, from the commands on PATH, the controller's
 * answer and partitions, and the run folder's filesystem.
 */
import { existsSync, mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { SlurmPartition } from './slurm-parse';
import type { SlurmClusterInfo, SlurmDoctorReport } from './slurm-types';

const DOCTOR_COMMANDS = ['sbatch', 'squeue', 'scancel', 'sinfo', 'sacct', 'scontrol'] as const;

/** What the doctor asks of the client. */
export interface SlurmDoctorHost {
  findOnPath(command: string): string | null;
  cluster(): Promise<SlurmClusterInfo>;
  partitions(): Promise<SlurmPartition[]>;
}

/**
 * Whether tasks can run on SLURM from here: the commands on PATH, the controller's answer and
 * partitions, and (given one) whether the run folder is writable. Never throws: every problem
 * is a sentence in `problems`.
 */
export async function slurmDoctor(host: SlurmDoctorHost, runFolder?: string): Promise<SlurmDoctorReport> {
  const commands = DOCTOR_COMMANDS.map((command) => ({ command, path: host.findOnPath(command) }));
  const problems: string[] = [];
  const missing = commands.filter(
    (check) => check.path === null && ['sbatch', 'squeue', 'scancel'].includes(check.command),
  );
  if (missing.length > 0) {
    problems.push(
      `${missing.map((check) => check.command).join(', ')} not found on PATH: install SLURM's client commands (Debian: slurm-client) or add them to PATH`,
    );
  }
  const report: SlurmDoctorReport = { ok: false, commands, partitions: [], problems, warnings: [] };
  if (
    commands.find((check) => check.command === 'sinfo')?.path &&
    commands.find((check) => check.command === 'scontrol')?.path
  ) {
    try {
      report.cluster = await host.cluster();
      report.partitions = await host.partitions();
      if (report.partitions.length === 0)
        problems.push('sinfo lists no partitions: jobs have nowhere to run');
      else if (!report.partitions.some((partition) => partition.availability === 'up'))
        problems.push(
          `no partition is up (${report.partitions.map((partition) => `${partition.name}: ${partition.availability}`).join(', ')})`,
        );
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
    }
  }
  if (runFolder !== undefined) {
    report.runFolder = checkRunFolder(runFolder);
    if (!report.runFolder.writable)
      problems.push(
        `the run folder ${runFolder} ${report.runFolder.exists ? 'is not writable' : 'cannot be created'} from here`,
      );
    else if (report.runFolder.shared === false)
      report.warnings.push(
        `the run folder ${runFolder} is on a local filesystem (${report.runFolder.filesystem}): compute nodes other than this machine cannot see it`,
      );
  }
  // A local run folder is fine on a single-node cluster: a warning, not a problem.
  report.ok =
    problems.length === 0 &&
    missing.length === 0 &&
    report.cluster !== undefined &&
    report.partitions.some((partition) => partition.availability === 'up') &&
    (report.runFolder?.writable ?? true);
  return report;
}

/** statfs magic numbers of filesystems that several machines mount (see statfs(2)). */
const SHARED_FILESYSTEMS: ReadonlyMap<number, string> = new Map([
  [0x6969, 'nfs'],
  [0x0bd00bd0, 'lustre'],
  [0x47504653, 'gpfs'],
  [0x19830326, 'beegfs'],
  [0x00c36400, 'ceph'],
  [0x65735546, 'fuse'],
  [0xff534d42, 'cifs'],
  [0xfe534d42, 'smb2'],
  [0x6e667364, 'nfsd'],
  [0x013111a8, 'ibrix'],
  [0x5346414f, 'afs'],
  [0x01161970, 'gfs2'],
  [0x7461636f, 'ocfs2'],
]);
/** …and of the usual local ones, to name them in the report. */
const LOCAL_FILESYSTEMS: ReadonlyMap<number, string> = new Map([
  [0xef53, 'ext4'],
  [0x58465342, 'xfs'],
  [0x9123683e, 'btrfs'],
  [0x01021994, 'tmpfs'],
  [0x794c7630, 'overlayfs'],
  [0x2fc12fc1, 'zfs'],
  [0xf2f52010, 'f2fs'],
]);

/**
 * Whether this process can create files in `path`, or, when it does not exist yet, in the nearest
 * folder above it that does (where it would be created); and on what filesystem. Creates nothing
 * that it does not remove.
 */
function checkRunFolder(path: string): NonNullable<SlurmDoctorReport['runFolder']> {
  const target = resolve(path);
  let existing = target;
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  const result: NonNullable<SlurmDoctorReport['runFolder']> = {
    path,
    exists: existing === target,
    writable: false,
  };
  try {
    rmSync(mkdtempSync(join(existing, '.distillery-doctor-')), { recursive: true, force: true });
    result.writable = true;
  } catch {
    return result;
  }
  try {
    const { type } = statfsSync(existing);
    const shared = SHARED_FILESYSTEMS.get(type);
    const local = LOCAL_FILESYSTEMS.get(type);
    if (shared) {
      result.filesystem = shared;
      result.shared = true;
    } else if (local) {
      result.filesystem = local;
      result.shared = false;
    } else {
      result.filesystem = `type 0x${type.toString(16)}`;
    }
  } catch {
    // statfs is a hint only; a filesystem that does not answer it leaves `shared` unknown.
  }
  return result;
}
