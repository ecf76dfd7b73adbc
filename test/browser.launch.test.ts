/**
 * The browser suite must fail loudly when Chromium cannot start, never skip: these tests point
 * TFJS_BATCHNORM_CHROMIUM at executables that cannot be Chromium and check the error, that no
 * browser profile folder is left behind, and that `npm run test:browser` exits 1 saying why.
 * No real browser is started here.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CHROMIUM_ENV, launchChromium } from '../scripts/browser/chromium';

const ROOT = path.join(__dirname, '..');
const profiles = () => fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('tfjs-batchnorm-chromium-')).sort();

describe('Chromium that cannot start', () => {
  let dir: string;
  const saved = process.env[CHROMIUM_ENV];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bn-launch-'));
  });
  afterEach(() => {
    if (saved == null) delete process.env[CHROMIUM_ENV];
    else process.env[CHROMIUM_ENV] = saved;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function launchError(exe: string): Promise<string> {
    process.env[CHROMIUM_ENV] = exe;
    const before = profiles();
    const err = await launchChromium().then(() => null, (e: Error) => e);
    expect(profiles()).toEqual(before); // no profile folder left behind
    if (err == null) throw new Error(`launchChromium started ${exe}`);
    return err.message;
  }

  test('a missing executable: an error naming the path and the variable', async () => {
    const exe = path.join(dir, 'no-such-chromium');
    expect(await launchError(exe)).toBe(`Chromium not found at ${exe} (set by ${CHROMIUM_ENV})`);
  });

  test('a file that is not executable: an error saying so', async () => {
    const exe = path.join(dir, 'chromium');
    fs.writeFileSync(exe, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
    expect(await launchError(exe)).toBe(`Chromium at ${exe} is not an executable file`);
  });

  test('an executable that is not Chromium: the launch error, naming the path', async () => {
    const exe = path.join(dir, 'chromium');
    fs.writeFileSync(exe, '#!/bin/sh\necho "not a browser" >&2\nexit 3\n', { mode: 0o755 });
    expect(await launchError(exe)).toMatch(new RegExp(`^Chromium \\(${exe.replace(/[.\\/]/g, '\\$&')}\\) did not start: `));
  });

  test('`npm run test:browser` exits 1 with the reason, before running any check', () => {
    const exe = path.join(dir, 'no-such-chromium');
    const r = spawnSync(process.execPath, [require.resolve('ts-node/dist/bin.js'), '--transpile-only', 'test/browser/run.ts'],
      { cwd: ROOT, env: { ...process.env, [CHROMIUM_ENV]: exe }, encoding: 'utf8', timeout: 60000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`browser suite could not run: Error: Chromium not found at ${exe} (set by ${CHROMIUM_ENV})`);
    expect(r.stdout).not.toMatch(/ ok |passed/);
  });
});
