/** Runs the real `distillery` CLI in a subprocess. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = fileURLToPath(new URL('../../main/cli.ts', import.meta.url));

export interface CliResult {
  code: number | null;
  /** The signal that ended the process, if one did (a SIGKILL from a test, a SIGBUS). */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  dataDir: string;
  env?: NodeJS.ProcessEnv;
  onStderr?: (text: string) => void;
  /** Run as this user (see helpers/unprivileged.ts); default: the test's own. */
  user?: { uid: number; gid: number } | undefined;
}

export function runCli(
  args: string[],
  options: CliOptions,
): Promise<CliResult> & { pid: () => number | undefined } {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args, '--data-dir', options.dataDir], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.user ?? {}),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    options.onStderr?.(chunk.toString());
  });
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return Object.assign(done, { pid: () => child.pid });
}

/** Runs the CLI with --json and parses stdout. */
export async function cliJson<T>(
  args: string[],
  dataDir: string,
  options: Omit<CliOptions, 'dataDir'> = {},
): Promise<{ code: number | null; json: T; stderr: string }> {
  const result = await runCli([...args, '--json'], { ...options, dataDir });
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

/** A `distillery serve` subprocess, once it has printed its URL. */
export interface ServeProcess {
  child: ChildProcess;
  /** The printed URL, with its `?token=`. */
  url: URL;
  token: string;
  /** `http://127.0.0.1:PORT`. */
  origin: string;
  /** What it has written to stderr so far. */
  stderr: () => string;
  /** Resolves when the spawned process (the wrapper, when there is one) has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /**
   * Resolves when every process holding the server's stdout has closed it: with a wrapper, the
   * moment the server itself is gone, though it is not our child.
   */
  stdoutClosed: Promise<void>;
}

/** How a test starts `distillery serve`. */
export type ServeWrapper = 'direct' | 'sh' | 'sh-tsx';

/** The shell commands of the wrappers: `"$0"` is node, `"$@"` the serve arguments. */
const SERVE_WRAPPERS: Record<Exclude<ServeWrapper, 'direct'>, string> = {
  // `npx distillery serve`: npm runs the bin entry under `sh -c`.
  sh: '"$0" main/bin/distillery.mjs "$@"; exit $?',
  // `npm run cli -- serve`: the same shell around tsx's CLI, which runs the server in a child.
  'sh-tsx': '"$0" node_modules/tsx/dist/cli.mjs main/cli.ts "$@"; exit $?',
};

/**
 * Starts `distillery serve --port 0` on `dataDir`: as `node --import tsx main/cli.ts` (`direct`),
 * or under a shell that neither execs it nor forwards signals to it, as `npx` and npm scripts run
 * it: through the bin entry (`sh`), or through tsx's CLI (`sh-tsx`).
 */
export async function startServe(
  dataDir: string,
  options: { wrapper?: ServeWrapper; env?: NodeJS.ProcessEnv } = {},
): Promise<ServeProcess> {
  const serveArgs = ['serve', '--port', '0', '--data-dir', dataDir];
  const wrapper = options.wrapper ?? 'direct';
  const spawnOptions = {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'],
  };
  const child =
    wrapper === 'direct'
      ? spawn(process.execPath, ['--import', 'tsx', CLI, ...serveArgs], spawnOptions)
      : spawn('/bin/sh', ['-c', SERVE_WRAPPERS[wrapper], process.execPath, ...serveArgs], {
          ...spawnOptions,
          // What npm puts in the environment of what it runs: the server watches its parents then.
          env: { ...spawnOptions.env, npm_lifecycle_event: 'serve', npm_execpath: '/usr/lib/npm-cli.js' },
        });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const stdoutClosed = new Promise<void>((resolve) => child.stdout.once('close', () => resolve()));
  const printed = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /serving at (\S+)/.exec(stdout);
      if (match) resolve(match[1]!);
    });
    void exited.then(({ code }) => reject(new Error(`serve exited with ${code} before serving:\n${stderr}`)));
  });
  const url = new URL(printed);
  return {
    child,
    url,
    token: url.searchParams.get('token') ?? '',
    origin: url.origin,
    stderr: () => stderr,
    exited,
    stdoutClosed,
  };
}
