/**
 * Running one of SLURM's commands: with the client's environment and a time limit, every way it
 * can fail kept as a CommandFailure, then turned into a coded error that says what was being done.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { DistilleryError } from '../../base/errors';

/** stderr lines by which SLURM says that it could not be reached, rather than that it refused. */
const UNREACHABLE =
  /Unable to contact slurm controller|Could not establish a configuration source|Socket timed out|Connection refused|Zero Bytes were transmitted|Communication connection failure|Invalid authentication credential|Munge|Unable to establish controller machine/i;

/** What a command printed. */
export interface CommandOutput {
  stdout: string;
  stderr: string;
}

/** A command that could not run or exited non-zero; turned into a coded error by whoever knows what it was for. */
export class CommandFailure extends Error {
  constructor(
    readonly kind: 'missing' | 'config' | 'timeout' | 'exit',
    readonly stderr: string,
    readonly stdout: string,
    readonly exitCode: number | null,
    override readonly cause: unknown,
  ) {
    super(`${kind}: ${stderr.trim()}`);
  }
}

/** The first lines of SLURM's message, as one line. */
export function slurmMessage(failure: CommandFailure): string {
  const text = (failure.stderr.trim() || failure.stdout.trim()).split('\n').slice(0, 6).join('; ');
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}

/** Runs SLURM's commands in one environment, each within one time limit. */
export class SlurmCommands {
  constructor(
    private readonly env: NodeJS.ProcessEnv,
    /** How long one command may take before the controller counts as not answering. */
    readonly timeoutMs: number,
  ) {}

  /** Runs `command`; a failure becomes a coded error saying that it happened while `doing`. */
  async run(command: string, commandArguments: string[], doing: string): Promise<CommandOutput> {
    try {
      return await this.exec(command, commandArguments);
    } catch (error) {
      if (!(error instanceof CommandFailure)) throw error;
      throw this.commandError(command, commandArguments, error, doing);
    }
  }

  /** Runs `command`; a failure is a CommandFailure, for callers that read its message first. */
  exec(command: string, commandArguments: readonly string[]): Promise<CommandOutput> {
    const config = this.env.SLURM_CONF;
    // SLURM's commands wait a minute for a missing configuration file before they give up.
    if (config && !existsSync(config)) {
      return Promise.reject(new CommandFailure('config', '', '', null, undefined));
    }
    return new Promise((resolve, reject) => {
      execFile(
        command,
        commandArguments,
        // squeue --json prints some kilobytes per job, and a large cluster has tens of thousands.
        { env: this.env, timeout: this.timeoutMs, maxBuffer: 512 * 1024 * 1024, killSignal: 'SIGKILL' },
        (error, stdout, stderr) => {
          if (!error) return resolve({ stdout, stderr });
          const failure = error as NodeJS.ErrnoException & { killed?: boolean; code?: string | number };
          if (failure.code === 'ENOENT') reject(new CommandFailure('missing', stderr, stdout, null, error));
          else if (failure.killed) reject(new CommandFailure('timeout', stderr, stdout, null, error));
          else
            reject(
              new CommandFailure(
                'exit',
                stderr,
                stdout,
                typeof failure.code === 'number' ? failure.code : null,
                error,
              ),
            );
        },
      );
    });
  }

  /** The coded error for a failure of `command` while `doing`. */
  commandError(
    command: string,
    commandArguments: string[],
    failure: CommandFailure,
    doing: string,
  ): DistilleryError {
    const details = {
      command,
      arguments: commandArguments,
      exitCode: failure.exitCode,
      slurmMessage: slurmMessage(failure),
    };
    if (failure.kind === 'missing') {
      return new DistilleryError(
        'SLURM_UNAVAILABLE',
        `${doing}: ${command} is not on PATH (install SLURM's client commands, Debian: slurm-client)`,
        { ...details, expected: `${command} on PATH`, received: this.env.PATH ?? '' },
        { cause: failure.cause },
      );
    }
    if (failure.kind === 'config') {
      return new DistilleryError(
        'SLURM_UNAVAILABLE',
        `${doing}: SLURM_CONF names ${this.env.SLURM_CONF ?? ''}, which does not exist`,
        { ...details, file: this.env.SLURM_CONF, expected: 'a slurm.conf file' },
      );
    }
    if (failure.kind === 'timeout') {
      return new DistilleryError(
        'SLURM_UNAVAILABLE',
        `${doing}: ${command} did not answer within ${Math.round(this.timeoutMs / 1000)} s`,
        details,
        { cause: failure.cause },
      );
    }
    const message = slurmMessage(failure) || `${command} exited with status ${failure.exitCode ?? 'unknown'}`;
    return new DistilleryError(
      UNREACHABLE.test(message) ? 'SLURM_UNAVAILABLE' : 'SLURM_COMMAND_FAILED',
      `${doing}: ${message}`,
      details,
      { cause: failure.cause },
    );
  }

  /** Where `command` is on the PATH the commands are looked up in, or null. */
  findOnPath(command: string): string | null {
    for (const folder of (this.env.PATH ?? '').split(delimiter)) {
      if (!folder) continue;
      const candidate = join(folder, command);
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // Not in this folder.
      }
    }
    return null;
  }
}
