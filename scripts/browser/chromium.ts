/**
 * Headless Chromium for the browser tests, the browser bench and the example page: Debian's
 * `chromium` package (installed through apt-get when missing and running as root, as on a fresh
 * CI machine), driven by playwright-core. Never downloads a browser of its own.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium, BrowserContext } from 'playwright-core';

/** Debian's Chromium, the one the scripts install when it is missing. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Environment variable naming another Chromium executable (e.g. a distribution that installs it elsewhere). */
export const CHROMIUM_ENV = 'TFJS_BATCHNORM_CHROMIUM';

/**
 * The Chromium executable to launch: `$TFJS_BATCHNORM_CHROMIUM` when set, else /usr/bin/chromium.
 *
 * Usage: `const exe = chromiumPath();`
 */
export function chromiumPath(): string {
  const override = process.env[CHROMIUM_ENV];
  return override != null && override !== '' ? override : CHROMIUM_PATH;
}

/**
 * Quiet, reproducible headless runs; WebGL and WebGPU through SwiftShader (both on the CPU).
 * Headless Chromium on Linux offers no WebGPU adapter by default: the last two flags give one,
 * from SwiftShader's Vulkan driver, which Debian's package ships. WebGPU also needs a secure
 * context, which pages served from 127.0.0.1 are.
 */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
];

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0) throw new Error(`\`${cmd} ${args.join(' ')}\` failed (exit ${r.status ?? r.signal})`);
}

/**
 * Makes sure the Chromium executable exists and may be run. /usr/bin/chromium, when missing, is
 * installed (Debian's `chromium`, apt-get, as root); a path given through
 * `$TFJS_BATCHNORM_CHROMIUM` is never installed over: a missing or non-executable file there is an
 * error naming it. Returns the path.
 *
 * Usage: `const exe = ensureChromium();`
 */
export function ensureChromium(): string {
  const exe = chromiumPath();
  if (exe !== CHROMIUM_PATH) {
    if (!fs.existsSync(exe)) throw new Error(`Chromium not found at ${exe} (set by ${CHROMIUM_ENV})`);
    assertExecutable(exe);
    return exe;
  }
  if (fs.existsSync(CHROMIUM_PATH)) {
    assertExecutable(CHROMIUM_PATH);
    return CHROMIUM_PATH;
  }
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!isRoot || !hasApt) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}, and it cannot be installed here ` +
      `(${isRoot ? 'no apt-get' : 'not root'}). Install it: sudo apt-get install -y chromium`);
  }
  console.log(`${CHROMIUM_PATH} missing: installing Debian's chromium with apt-get`);
  run('apt-get', ['update']);
  run('apt-get', ['install', '-y', '--no-install-recommends', 'chromium']);
  if (!fs.existsSync(CHROMIUM_PATH)) throw new Error(`apt-get installed chromium, but ${CHROMIUM_PATH} is still missing`);
  return CHROMIUM_PATH;
}

function assertExecutable(exe: string): void {
  try {
    fs.accessSync(exe, fs.constants.X_OK);
  } catch {
    throw new Error(`Chromium at ${exe} is not an executable file`);
  }
  if (fs.statSync(exe).isDirectory()) throw new Error(`Chromium at ${exe} is a folder, not an executable file`);
}

export interface Browser {
  context: BrowserContext;
  /** Closes the browser and removes its profile folder. */
  close(): Promise<void>;
}

/**
 * Launches headless Chromium with a fresh profile (so IndexedDB starts empty), with `extraArgs`
 * after the usual flags. Throws, with the launch error, when it cannot start: the browser suite,
 * the browser bench and the example server then exit non-zero; nothing is skipped.
 *
 * Usage: `const browser = await launchChromium(); const page = await browser.context.newPage();`
 */
export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  const exe = ensureChromium();
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-batchnorm-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: exe,
      headless: true,
      args: [...CHROMIUM_ARGS, ...extraArgs],
    });
  } catch (err) {
    fs.rmSync(profile, { recursive: true, force: true });
    throw new Error(`Chromium (${exe}) did not start: ${(err as Error).message}`);
  }
  return {
    context,
    close: async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
