#!/usr/bin/env node
/**
 * Installs @tensorflow/tfjs-node on a machine that cannot reach its download server (air-gapped,
 * firewalled, or a platform / Node version without a prebuilt addon), from a TensorFlow wheel
 * that pip can fetch (a local or mirrored package index) or that is given as a file.
 *
 * Usage: `node scripts/install-tfjs-node.js [--wheel PATH] [--cache DIR] [--force] [--quiet]`
 *
 * Steps (each skipped when its result is already in place, so a second run only verifies):
 *  1. `npm install --no-save --ignore-scripts @tensorflow/tfjs-node@4.22.0`: tfjs-node stays out
 *     of package.json and the lockfile, so `npm ci` never needs it (and never runs its install
 *     script, which would try to download libtensorflow).
 *  2. The TensorFlow C libraries and the C headers the addon includes, taken from the wheel
 *     (`pip download --no-deps tensorflow-cpu==2.21.0`, or --wheel / TFJS_NODE_TF_WHEEL) into a
 *     cache outside the clone (--cache / TFJS_BATCHNORM_CACHE, default ~/.cache/tfjs-batchnorm).
 *  3. Placed in tfjs-node's `deps/` (hard links into the cache where possible, else copies):
 *     `lib/libtensorflow_cc.so.2` and `lib/libtensorflow_framework.so.2` (the names the built
 *     addon asks the loader for), `lib/libtensorflow.so.2.9.1` (the file tfjs-node's install
 *     script checks for, so it downloads nothing) and `lib/libtensorflow.so` /
 *     `lib/libtensorflow_framework.so` (what the linker's -l flags find); headers in `include/`.
 *  4. `scripts/custom-binary.json` with a `tf-lib` entry, which makes tfjs-node's own install
 *     script build the addon from source (node-gyp against this Node's headers) instead of
 *     fetching a prebuilt one; then that script runs. The built addon is cached too.
 *  5. A fresh Node process loads tfjs-node and must report `tf.getBackend() === 'tensorflow'`.
 *
 * Every failure exits non-zero with a message naming the step, what was expected and what
 * happened, and how to get past it.
 */
'use strict';
const cp = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const TFJS_NODE_VERSION = '4.22.0';
const TF_WHEEL_PACKAGE = 'tensorflow-cpu';
const TF_VERSION = '2.21.0';
// The libtensorflow version tfjs-node 4.22.0's install script looks for in deps/lib.
const TFJS_NODE_LIB_VERSION = '2.9.1';

const ROOT = path.resolve(__dirname, '..');
const PKG_DIR = path.join(ROOT, 'node_modules', '@tensorflow', 'tfjs-node');
const DEPS = path.join(PKG_DIR, 'deps');
const STAMP = path.join(DEPS, 'tfjs-batchnorm-install.json');

class InstallError extends Error {}

function parseArgs(argv) {
  const opts = {
    wheel: process.env.TFJS_NODE_TF_WHEEL || null,
    cache: process.env.TFJS_BATCHNORM_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'tfjs-batchnorm'),
    force: false,
    quiet: false,
  };
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new InstallError(`${arg} expects a value`);
      return argv[++i];
    };
    if (arg === '--wheel') opts.wheel = path.resolve(value());
    else if (arg === '--cache') opts.cache = path.resolve(value());
    else if (arg === '--force') opts.force = true;
    else if (arg === '--quiet') opts.quiet = true;
    else if (arg === '--help' || arg === '-h') {
      console.log('Usage: node scripts/install-tfjs-node.js [--wheel PATH] [--cache DIR] [--force] [--quiet]');
      process.exit(0);
    } else throw new InstallError(`unknown argument ${JSON.stringify(arg)} (expected --wheel PATH, --cache DIR, --force or --quiet)`);
  }
  return opts;
}

let quiet = false;
const started = Date.now();
function log(message) {
  if (!quiet) console.error(`[install-tfjs-node ${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);
}

/** Runs a command; on failure throws with the step's name and the tail of its output. */
function run(step, command, args, options = {}) {
  const result = cp.spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  if (result.error != null) {
    throw new InstallError(`${step}: could not run ${command}: ${result.error.message}`);
  }
  if (result.status !== 0) {
    const output = `${result.stdout || ''}${result.stderr || ''}`.trim().split('\n').slice(-25).join('\n');
    throw new InstallError(`${step}: \`${[command, ...args].join(' ')}\` exited with ${result.status ?? result.signal}:\n${output}`);
  }
  return result.stdout;
}

/** run(), without blocking: for the two downloads that go at once. */
function runAsync(step, command, args, options = {}) {
  return new Promise((resolve, reject) => {
    let output = '';
    let child;
    try {
      child = cp.spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      reject(new InstallError(`${step}: could not run ${command}: ${e.message}`));
      return;
    }
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    child.on('error', (e) => reject(new InstallError(`${step}: could not run ${command}: ${e.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve(output);
      else reject(new InstallError(`${step}: \`${[command, ...args].join(' ')}\` exited with ${code ?? signal}:\n${output.trim().split('\n').slice(-25).join('\n')}`));
    });
  });
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

function wantedStamp() {
  return { tfjsNode: TFJS_NODE_VERSION, tensorflow: `${TF_WHEEL_PACKAGE}==${TF_VERSION}`, napi: process.versions.napi, modules: process.versions.modules, platform: `${process.platform}-${process.arch}` };
}

function sameStamp(a, b) {
  return a != null && JSON.stringify(a) === JSON.stringify(b);
}

/** The addon file tfjs-node loads: asked of node-pre-gyp, as tfjs-node's own index.js does. */
function addonPath() {
  const preGyp = require(require.resolve('@mapbox/node-pre-gyp', { paths: [PKG_DIR] }));
  return preGyp.find(path.join(PKG_DIR, 'package.json'));
}

// ---- step 1: the npm package ----------------------------------------------------------------

function installedVersion() {
  return readJson(path.join(PKG_DIR, 'package.json'))?.version ?? null;
}

async function installPackage() {
  if (installedVersion() === TFJS_NODE_VERSION) return;
  log(`npm install --no-save --ignore-scripts @tensorflow/tfjs-node@${TFJS_NODE_VERSION}`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  await runAsync('installing the npm package', npm,
    ['install', '--no-save', '--ignore-scripts', '--no-audit', '--no-fund', `@tensorflow/tfjs-node@${TFJS_NODE_VERSION}`],
    { cwd: ROOT });
  if (installedVersion() !== TFJS_NODE_VERSION) {
    throw new InstallError(`installing the npm package: expected @tensorflow/tfjs-node ${TFJS_NODE_VERSION} in ${PKG_DIR}, found ${installedVersion() ?? 'nothing'}`);
  }
}

// ---- step 2: libraries and headers from the wheel ---------------------------------------------

/** The TensorFlow headers the addon's sources include directly. */
function addonHeaders() {
  const dir = path.join(PKG_DIR, 'binding');
  const headers = new Set();
  for (const file of fs.readdirSync(dir)) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    for (const m of text.matchAll(/^\s*#\s*include\s+"((?:tensorflow|tsl|xla)\/[^"]+)"/gm)) headers.add(m[1]);
  }
  if (headers.size === 0) throw new InstallError(`reading the addon's sources: no TensorFlow #include found in ${dir}`);
  return [...headers].sort();
}

function findPython() {
  for (const candidate of [process.env.PYTHON, 'python3', 'python'].filter(Boolean)) {
    const r = cp.spawnSync(candidate, ['-c', 'import sys, zipfile; print(sys.version_info[0])'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() === '3') return candidate;
  }
  throw new InstallError('finding Python: python3 is needed to run pip and to read the wheel; none found on PATH (set PYTHON to its path)');
}

async function downloadWheel(python, dir) {
  fs.mkdirSync(dir, { recursive: true });
  log(`pip download --no-deps ${TF_WHEEL_PACKAGE}==${TF_VERSION} (from pip's configured index)`);
  await runAsync(`downloading the ${TF_WHEEL_PACKAGE} ${TF_VERSION} wheel with pip (give one with --wheel PATH or TFJS_NODE_TF_WHEEL instead)`,
    python, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--disable-pip-version-check', `${TF_WHEEL_PACKAGE}==${TF_VERSION}`, '-d', dir]);
  const wheels = fs.readdirSync(dir).filter((f) => f.startsWith(`${TF_WHEEL_PACKAGE.replace(/-/g, '_')}-${TF_VERSION}-`) && f.endsWith('.whl'));
  if (wheels.length !== 1) {
    throw new InstallError(`downloading the wheel: expected one ${TF_WHEEL_PACKAGE.replace(/-/g, '_')}-${TF_VERSION}-*.whl in ${dir}, found ${JSON.stringify(fs.readdirSync(dir))}`);
  }
  return path.join(dir, wheels[0]);
}

const LIBS = ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2'];

/** The cache entry for this TensorFlow: lib/ and include/, extracted once, reused by every clone. */
function libraryEntry(opts) {
  return path.join(opts.cache, `${TF_WHEEL_PACKAGE}-${TF_VERSION}-${process.platform}-${process.arch}`);
}

/** Whether the entry is complete (for `headers`, when known). */
function librariesCached(entry, headers = []) {
  const done = readJson(path.join(entry, 'complete.json'));
  return done != null && headers.every((h) => done.headers.includes(h)) && LIBS.every((f) => fs.existsSync(path.join(entry, 'lib', f)));
}

/** The wheel: the one given (checked to exist), or pip's download into `dir`. */
async function fetchWheel(opts, dir) {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new InstallError(`this route is made for Linux x64 (the ${TF_WHEEL_PACKAGE} manylinux wheel); this machine is ${process.platform}-${process.arch}`);
  }
  if (opts.wheel != null) {
    if (!fs.existsSync(opts.wheel)) throw new InstallError(`reading the wheel: ${opts.wheel} does not exist`);
    return opts.wheel;
  }
  return downloadWheel(findPython(), dir);
}

/** Fills the cache entry from the wheel (fetched now if `wheel` is null). */
async function ensureLibraries(opts, entry, wheel) {
  const headers = addonHeaders();
  if (!opts.force && librariesCached(entry, headers)) return;
  const python = findPython();
  fs.mkdirSync(opts.cache, { recursive: true });
  // Built beside the final place and renamed into it, so an interrupted run leaves no half entry.
  const staging = fs.mkdtempSync(`${entry}.partial-`);
  try {
    const file = wheel ?? await fetchWheel(opts, path.join(staging, 'wheel'));
    log(`extracting libtensorflow and ${headers.length} addon headers (and what they include) from ${path.basename(file)}`);
    const out = run('extracting the wheel', python, [path.join(__dirname, 'install-tfjs-node-extract.py'), file, staging, ...headers]);
    const summary = JSON.parse(out.trim().split('\n').pop());
    fs.rmSync(path.join(staging, 'wheel'), { recursive: true, force: true });
    fs.writeFileSync(path.join(staging, 'complete.json'), JSON.stringify({ wheel: path.basename(file), headers: summary.headers }, null, 1));
    fs.rmSync(entry, { recursive: true, force: true });
    fs.renameSync(staging, entry);
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}

// ---- step 3: deps/ ----------------------------------------------------------------------------

/** Hard link (instant, no extra disk) where cache and clone share a file system, else a copy. */
function linkOrCopy(from, to) {
  fs.rmSync(to, { force: true });
  try {
    fs.linkSync(from, to);
  } catch {
    fs.copyFileSync(from, to);
  }
}

function placeDeps(entry) {
  fs.rmSync(DEPS, { recursive: true, force: true });
  const lib = path.join(DEPS, 'lib');
  fs.mkdirSync(lib, { recursive: true });
  linkOrCopy(path.join(entry, 'lib', 'libtensorflow_cc.so.2'), path.join(lib, 'libtensorflow_cc.so.2'));
  linkOrCopy(path.join(entry, 'lib', 'libtensorflow_framework.so.2'), path.join(lib, 'libtensorflow_framework.so.2'));
  fs.symlinkSync('libtensorflow_cc.so.2', path.join(lib, `libtensorflow.so.${TFJS_NODE_LIB_VERSION}`));
  fs.symlinkSync('libtensorflow_cc.so.2', path.join(lib, 'libtensorflow.so'));
  fs.symlinkSync('libtensorflow_framework.so.2', path.join(lib, 'libtensorflow_framework.so'));
  fs.cpSync(path.join(entry, 'include'), path.join(DEPS, 'include'), { recursive: true });
}

// ---- step 4: the addon ------------------------------------------------------------------------

function addonCachePath(opts) {
  const s = wantedStamp();
  return path.join(opts.cache, `tfjs_binding-${s.tfjsNode}-tf${TF_VERSION}-napi${s.napi}-abi${s.modules}-${s.platform}.node`);
}

function nodeGypPath() {
  if (process.env.npm_config_node_gyp && fs.existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  // npm carries node-gyp; find it beside the npm that runs this Node.
  const candidates = [
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(path.dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  try {
    candidates.unshift(require.resolve('node-gyp/bin/node-gyp.js'));
  } catch { /* not installed locally */ }
  const found = candidates.find((c) => fs.existsSync(c));
  if (found == null) throw new InstallError(`building the addon: node-gyp not found (looked in ${candidates.join(', ')}); set npm_config_node_gyp to node-gyp.js`);
  return found;
}

function nodeHeadersDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  // Node's own headers, installed beside the binary by distribution packages and the official tarballs.
  const dir = path.resolve(path.dirname(process.execPath), '..');
  if (fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h'))) return dir;
  throw new InstallError(`building the addon: Node's headers (include/node/node_api.h) are not beside ${process.execPath}; ` +
    'install them (e.g. the nodejs-dev / node headers tarball for this exact Node version) and set npm_config_nodedir to their root');
}

function buildAddon(opts) {
  const target = addonPath();
  const cached = addonCachePath(opts);
  if (!opts.force && fs.existsSync(cached)) {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(cached, target);
    return 'cached';
  }
  for (const tool of ['make', 'g++']) {
    if (cp.spawnSync(tool, ['--version']).status !== 0) throw new InstallError(`building the addon: ${tool} is needed by node-gyp and is not on PATH`);
  }
  fs.writeFileSync(path.join(PKG_DIR, 'scripts', 'custom-binary.json'),
    `${JSON.stringify({ 'tf-lib': `file://${path.join(DEPS, 'lib')}` }, null, 2)}\n`);
  log('building the addon with tfjs-node\'s own install script (node-pre-gyp --build-from-source)');
  const env = {
    ...process.env,
    npm_config_nodedir: nodeHeadersDir(),
    npm_config_node_gyp: nodeGypPath(),
    JOBS: String(Math.max(1, os.cpus().length)),
    PATH: `${path.join(ROOT, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH}`,
  };
  run('building the addon (tfjs-node\'s scripts/install.js)', process.execPath, [path.join('scripts', 'install.js')], { cwd: PKG_DIR, env });
  if (!fs.existsSync(target)) throw new InstallError(`building the addon: tfjs-node's install script finished but ${target} does not exist`);
  fs.copyFileSync(target, `${cached}.tmp-${process.pid}`);
  fs.renameSync(`${cached}.tmp-${process.pid}`, cached);
  return 'built';
}

// ---- step 5: verify ---------------------------------------------------------------------------

function verify() {
  const probe = `
    const tf = require('@tensorflow/tfjs-node');
    const sum = tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])).dataSync();
    console.log(JSON.stringify({ backend: tf.getBackend(), tf: tf.version.tfjs, native: tf.engine().backend.binding?.TF_Version, sum: Array.from(sum) }));`;
  const out = run('verifying (loading @tensorflow/tfjs-node in a fresh Node)', process.execPath, ['-e', probe], { cwd: ROOT });
  const info = JSON.parse(out.trim().split('\n').pop());
  if (info.backend !== 'tensorflow' || info.sum.join() !== '4,6') {
    throw new InstallError(`verifying: expected backend 'tensorflow' computing [1,2]+[3,4] = [4,6], got backend ${JSON.stringify(info.backend)} and ${JSON.stringify(info.sum)}`);
  }
  return info;
}

async function main() {
  const opts = parseArgs(process.argv);
  quiet = opts.quiet;
  if (!fs.existsSync(path.join(ROOT, 'node_modules', '@tensorflow', 'tfjs'))) {
    throw new InstallError(`node_modules/@tensorflow/tfjs is missing in ${ROOT}: run \`npm ci\` first`);
  }
  const stamp = wantedStamp();
  if (!opts.force && installedVersion() === TFJS_NODE_VERSION && sameStamp(readJson(STAMP), stamp) && fs.existsSync(addonPath())) {
    const info = verify();
    log(`already installed: backend ${info.backend}, TensorFlow ${info.native}`);
    return;
  }
  const entry = libraryEntry(opts);
  // When the cache lacks the libraries, pip fetches the wheel while npm installs the package.
  let downloads = null;
  if (opts.force || !librariesCached(entry)) {
    fs.mkdirSync(opts.cache, { recursive: true });
    downloads = fs.mkdtempSync(path.join(opts.cache, 'wheel-'));
  }
  try {
    const [pkg, wheel] = await Promise.allSettled([installPackage(), downloads == null ? null : fetchWheel(opts, downloads)]);
    for (const r of [pkg, wheel]) if (r.status === 'rejected') throw r.reason;
    await ensureLibraries(opts, entry, wheel.value);
  } finally {
    if (downloads != null) fs.rmSync(downloads, { recursive: true, force: true });
  }
  placeDeps(entry);
  const how = buildAddon(opts);
  const info = verify();
  fs.writeFileSync(STAMP, `${JSON.stringify(stamp, null, 1)}\n`);
  log(`done (addon ${how}): @tensorflow/tfjs-node ${TFJS_NODE_VERSION}, backend ${info.backend}, TensorFlow ${info.native}, libraries from ${entry}`);
}

main().catch((e) => {
  const message = e instanceof InstallError ? e.message : (e && e.stack) || String(e);
  console.error(`install-tfjs-node failed: ${message}`);
  process.exit(1);
});
