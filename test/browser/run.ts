/**
 * `npm run test:browser`: the browser suite. Bundles test/browser/page.ts with esbuild, serves
 * it on 127.0.0.1, and runs its checks in headless Chromium (Debian's, installed through apt-get
 * when missing) on the webgl and webgpu (both SwiftShader), wasm and cpu backends, in one browser launch.
 * Exits non-zero when any check fails, and when Chromium cannot start: there is no skip.
 *
 * It also opens the example page (examples/browser/), which trains, saves to IndexedDB and
 * reloads, and takes a screenshot of it.
 *
 * Usage: `npm run test:browser` | `npm run test:browser -- --backends webgl,cpu`
 *        | `npm run test:browser -- --screenshot docs/example-browser.png` (refresh the README's picture)
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { batchNormalization } from '../../src';
import { saveModel } from '../../src/io';
import { examplePage } from '../../examples/browser/build';
import { launchChromium } from '../../scripts/browser/chromium';
import { ROOT, serve, Served } from '../../scripts/browser/serve';
import type { BrowserContext } from 'playwright-core';
import type { CheckResult } from './page';
import { keras3Files } from './keras3_files';
import { kerasFixtureFiles } from './keras_files';

const BACKENDS = ['webgl', 'webgpu', 'wasm', 'cpu'];

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** A small trained-looking model with this package's layer, saved in Node, and its predictions. */
async function nodeModel(dir: string): Promise<void> {
  await tf.setBackend('cpu');
  // The cpu backend's first tensor prints an "install tfjs-node" banner in Node; this one-off
  // model does not need the advice, so the banner is skipped.
  tf.env().set('IS_NODE', false);
  tf.scalar(0).dispose();
  tf.env().set('IS_NODE', true);
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [4], units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 21 }) }),
      batchNormalization({ name: 'bn' }),
      tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 22 }) }),
    ],
  });
  const bn = model.getLayer('bn');
  bn.setWeights([tf.tensor1d([1.5, 0.5, 2]), tf.tensor1d([0.1, -0.2, 0.3]), tf.tensor1d([0.2, -0.1, 0.4]), tf.tensor1d([2, 0.5, 1.5])]);
  const input = [[1, 2, 3, 4], [-1, 0.5, 0, 2]];
  const output = tf.tidy(() => Array.from((model.predict(tf.tensor2d(input)) as tf.Tensor).dataSync()));
  await saveModel(model, dir);
  fs.writeFileSync(path.join(dir, 'expected.json'), JSON.stringify({ input, output }));
  model.dispose();
}

/**
 * Runs in the script-tag page (globals `tf` and `tfjsBatchnorm`): one training step of a model
 * with the layer, and the layer registered under its class name.
 */
async function scriptTagCheck(): Promise<{ ok: boolean; detail: string }> {
  type Tf = typeof tf;
  const g = globalThis as unknown as { tf: Tf; tfjsBatchnorm: typeof import('../../src') };
  const t = g.tf;
  await t.setBackend('cpu');
  const before = t.memory().numTensors;
  const model = t.sequential({ layers: [t.layers.dense({ units: 3, inputShape: [2] }), g.tfjsBatchnorm.batchNormalization()] });
  model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
  const x = t.tensor2d([[1, 2], [3, 5], [0, 1]]);
  const y = t.zeros([3, 3]);
  const loss = await model.trainOnBatch(x, y) as number;
  const cls = model.layers[1].getClassName();
  const registered = t.serialization.SerializationMap.getMap().classNameMap[cls]?.[0] === g.tfjsBatchnorm.BatchNormalization;
  t.dispose([x, y]);
  model.dispose();
  const leaked = t.memory().numTensors - before;
  const ok = Number.isFinite(loss) && cls === 'TfjsBatchNormalization' && registered && leaked === 0;
  return { ok, detail: `class ${cls}, registered ${registered}, loss ${loss.toFixed(4)}, leaked ${leaked}` };
}

/**
 * Opens the example page (2 epochs on webgl), waits for it to finish, checks what it reports and
 * takes a screenshot (into .cache/, or to `screenshotPath` with `--screenshot docs/example-browser.png`).
 */
async function runExample(context: BrowserContext, origin: string, screenshotPath?: string): Promise<{ ok: boolean; detail: string }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.setViewportSize({ width: 940, height: 760 });
  await page.goto(`${origin}/example.html?epochs=2&backend=webgl`);
  await page.waitForFunction(() => 'exampleResult' in window, null, { timeout: 120000 });
  const r = await page.evaluate(() => (window as unknown as { exampleResult: Record<string, unknown> }).exampleResult);
  const shot = screenshotPath ?? path.join(ROOT, '.cache', 'browser-test', 'example.png');
  await page.screenshot({ path: shot });
  await page.close();
  const ok = errors.length === 0 && r.error == null && r.backend === 'webgl' && r.identical === true &&
    r.bnClass === 'TfjsBatchNormalization' && (r.accWithBN as number) > 0.5;
  const detail = r.error != null ? `error: ${r.error}` : `accuracy with BN ${(r.accWithBN as number).toFixed(3)}, ` +
    `without ${(r.accWithout as number).toFixed(3)}, reloaded ${r.bnClass}, identical predictions ${r.identical}; ` +
    `screenshot ${path.relative(ROOT, shot)}${errors.length ? `; page errors: ${errors.join('; ')}` : ''}`;
  return { ok, detail };
}

async function main(): Promise<number> {
  const started = Date.now();
  const backends = option('--backends')?.split(',') ?? BACKENDS;
  const dir = path.join(ROOT, '.cache', 'browser-test');
  // First, so a Chromium that cannot start fails the suite at once (exit 1, its error printed).
  const browser = await launchChromium();
  const failures: string[] = [];
  let served: Served | null = null;
  try {
    served = await serve({
      dir,
      entries: { page: 'test/browser/page.ts', ...examplePage().entries },
      files: {
        ...examplePage().files,
        'index.html': '<!doctype html><meta charset="utf-8"><title>tfjs-batchnorm browser tests</title><script type="module" src="/page.js"></script>\n',
        // The script-tag route: tfjs's own minified build, then the package's.
        'tf.min.js': path.join(ROOT, 'node_modules', '@tensorflow', 'tfjs', 'dist', 'tf.min.js'),
        'tfjs-batchnorm.min.js': path.join(ROOT, 'dist', 'browser', 'tfjs-batchnorm.min.js'),
        ...keras3Files(),
        'torch_rms/cases.json': path.join(ROOT, 'test', 'fixtures', 'torch_rms', 'cases.json'),
        'script-tag.html': '<!doctype html><meta charset="utf-8"><script src="/tf.min.js"></script><script src="/tfjs-batchnorm.min.js"></script>\n',
        ...kerasFixtureFiles(),
      },
    });
    await nodeModel(path.join(dir, 'models', 'node-bn'));
    const page = await browser.context.newPage();
    page.on('pageerror', (err) => failures.push(`page error: ${err.message}`));
    await page.goto(`${served.origin}/index.html`);
    await page.waitForFunction(() => 'runSuite' in window, null, { timeout: 60000 });
    const webgpu = await page.evaluate(async () => {
      const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
      return gpu != null && (await gpu.requestAdapter()) != null;
    });
    console.log(`Chromium ${browser.context.browser()?.version() ?? ''} headless at ${served.origin}; webgpu adapter: ${webgpu ? 'yes' : 'no'}`);
    if (!webgpu && backends.includes('webgpu')) {
      failures.push('[webgpu] no adapter: navigator.gpu.requestAdapter() gave none (see scripts/browser/chromium.ts for the flags)');
    }
    for (const backend of backends) {
      const results = await page.evaluate((b) => (window as unknown as { runSuite(b: string): Promise<CheckResult[]> }).runSuite(b), backend);
      for (const r of results) {
        console.log(`${r.ok ? '  ok  ' : 'FAILED'} [${r.backend}] ${r.name} (${r.ms.toFixed(0)} ms)${r.ok ? '' : `\n${r.detail}`}`);
        if (!r.ok) failures.push(`[${r.backend}] ${r.name}`);
      }
    }
    const scriptTag = await browser.context.newPage();
    scriptTag.on('pageerror', (err) => failures.push(`script-tag page error: ${err.message}`));
    await scriptTag.goto(`${served.origin}/script-tag.html`);
    const viaScript = await scriptTag.evaluate(scriptTagCheck);
    console.log(`${viaScript.ok ? '  ok  ' : 'FAILED'} [script tag] tf.min.js + tfjs-batchnorm.min.js: ${viaScript.detail}`);
    if (!viaScript.ok) failures.push('[script tag] tf.min.js + tfjs-batchnorm.min.js');

    const example = await runExample(browser.context, served.origin, option('--screenshot'));
    console.log(`${example.ok ? '  ok  ' : 'FAILED'} [example] examples/browser trains, saves to IndexedDB, reloads: ${example.detail}`);
    if (!example.ok) failures.push('[example] examples/browser');
  } finally {
    await browser.close();
    await served?.stop();
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (failures.length > 0) {
    console.error(`\nbrowser suite: ${failures.length} failure(s) in ${seconds} s:\n  ${failures.join('\n  ')}`);
    return 1;
  }
  console.log(`\nbrowser suite: all checks passed on ${backends.join(', ')} in ${seconds} s`);
  return 0;
}

main().then((code) => process.exit(code), (err) => {
  console.error(`browser suite could not run: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
