/** Runs the real `distillery` CLI in a subprocess. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = fileURLToPath(new URL('../../main/cli.ts', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  options: { dataDir: string; env?: NodeJS.ProcessEnv; onStderr?: (text: string) => void },
): Promise<CliResult> & { pid: () => number | undefined } {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args, '--data-dir', options.dataDir], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    options.onStderr?.(chunk.toString());
  });
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return Object.assign(done, { pid: () => child.pid });
}

/** Runs the CLI with --json and parses stdout. */
export async function cliJson<T>(
  args: string[],
  dataDir: string,
): Promise<{ code: number | null; json: T; stderr: string }> {
  const result = await runCli([...args, '--json'], { dataDir });
  let json: T;
  try {
    json = JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(
      `CLI ${args.join(' ')} printed no JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`,
    );
  }
  return { code: result.code, json, stderr: result.stderr };
}
