/**
 * The process guard in a real subprocess whose stderr reader has gone away: writes to the closed
 * pipe fail with EPIPE, and the guard must not report those failures through the same pipe (which
 * would fail again, for ever): they are not errors of the process's work.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli';

const SCRIPT = `
import { installProcessGuard } from ${JSON.stringify(join(REPO_ROOT, 'main', 'app', 'process-guard.ts'))};
const guard = installProcessGuard();
let left = 200;
const timer = setInterval(() => {
  process.stderr.write('line that nobody reads\\n');
  if (--left === 0) {
    clearInterval(timer);
    process.stdout.write(\`reported \${guard.reported}\\n\`);
    process.exit(0);
  }
}, 2);
`;

describe('process guard', () => {
  it('finishes and exits 0 when its stderr pipe is closed under it', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    // Close our end of its stderr at once: its writes now fail with EPIPE.
    child.stderr.destroy();
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    // Before, each failed write came back as an uncaught exception, was reported to stderr, failed
    // again, and so on: thousands of reports for 200 writes, and a server that never went idle.
    expect(stdout).toBe('reported 0\n');
  }, 30_000);
});
