/**
 * Files in a run's folder that coordinate processes: `runner.pid` names the process that owns a
 * running run; `cancel-requested` is how another process (`distillery cancel`) asks it to stop.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const CANCEL_MARKER = 'cancel-requested';
const OWNER_FILE = 'runner.pid';

export class RunFolders {
  constructor(private readonly runsDir: string) {
    mkdirSync(runsDir, { recursive: true });
  }

  dir(runId: string): string {
    return join(this.runsDir, runId);
  }

  /** Marks this process as the run's owner. */
  claim(runId: string): void {
    mkdirSync(this.dir(runId), { recursive: true });
    writeFileSync(join(this.dir(runId), OWNER_FILE), String(process.pid));
  }

  release(runId: string): void {
    rmSync(join(this.dir(runId), OWNER_FILE), { force: true });
    this.clearCancel(runId);
  }

  owner(runId: string): number | undefined {
    try {
      const pid = Number(readFileSync(join(this.dir(runId), OWNER_FILE), 'utf8'));
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** Whether another live process owns the run. */
  ownedElsewhere(runId: string): boolean {
    const pid = this.owner(runId);
    return pid !== undefined && pid !== process.pid && isAlive(pid);
  }

  requestCancel(runId: string): void {
    writeFileSync(join(this.dir(runId), CANCEL_MARKER), String(process.pid));
  }

  cancelRequested(runId: string): boolean {
    return existsSync(join(this.dir(runId), CANCEL_MARKER));
  }

  clearCancel(runId: string): void {
    rmSync(join(this.dir(runId), CANCEL_MARKER), { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
