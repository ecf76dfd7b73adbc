/**
 * Child processes of the fuzz and concurrency tests run a script bundled by esbuild (the package's
 * own sources inlined, npm packages left to node_modules): starting one costs about what loading
 * tfjs costs, not a TypeScript compile of the whole package.
 */
import * as esbuild from 'esbuild';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn } from 'child_process';

const REPO = path.join(__dirname, '..', '..');

/** Bundles `entry` (a .ts file) into a fresh temp folder; returns the .js path. */
export function bundle(entry: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-bn-fuzz-bundle-'));
  const outfile = path.join(dir, `${path.basename(entry, '.ts')}.js`);
  esbuild.buildSync({ entryPoints: [entry], bundle: true, platform: 'node', format: 'cjs', outfile,
    packages: 'external', logLevel: 'silent', target: 'node18' });
  return outfile;
}

export interface ChildResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }

/**
 * Runs `node script ...args`, killing it with SIGKILL after `timeoutMs`; resolves when it ends.
 * `onLine` sees each stdout line as it arrives.
 */
export function runChild(script: string, args: string[], timeoutMs: number,
  options: { cwd?: string; env?: NodeJS.ProcessEnv; nodeArgs?: string[] } = {}): Promise<ChildResult> {
  const start = Date.now();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), script, ...args], {
    cwd: options.cwd ?? REPO,
    env: { ...process.env, ...options.env, NODE_PATH: path.join(REPO, 'node_modules') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - start });
    });
  });
}

/** The JSON lines of a child's stdout. */
export function jsonLines<T>(stdout: string): T[] {
  return stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as T);
}
