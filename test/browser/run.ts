/**
 * `npm run test:browser`: the browser suite. Bundles test/browser/page.ts with esbuild, serves
 * it on 127.0.0.1, and runs its checks in headless Chromium (Debian's, installed through apt-get
 * when missing) on the webgl (SwiftShader), wasm and cpu backends, in one browser launch.
 * Exits non-zero when any check fails, and when Chromium cannot start: there is no skip.
 *
 * Usage: `npm run test:browser` | `npm run test:browser -- --backends webgl,cpu`
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { batchNormalization, saveModel } from '../../src';
import { launchChromium } from '../../scripts/browser/chromium';
import { ROOT, serve } from '../../scripts/browser/serve';
import type { CheckResult } from './page';

const BACKENDS = ['webgl', 'wasm', 'cpu'];

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

async function main(): Promise<number> {
  const started = Date.now();
  const backends = option('--backends')?.split(',') ?? BACKENDS;
  const dir = path.join(ROOT, '.cache', 'browser-test');
  const served = await serve({
    dir,
    entries: { page: 'test/browser/page.ts' },
    files: { 'index.html': '<!doctype html><meta charset="utf-8"><title>tfjs-batchnorm browser tests</title><script type="module" src="/page.js"></script>\n' },
  });
  await nodeModel(path.join(dir, 'models', 'node-bn'));
  const browser = await launchChromium();
  const failures: string[] = [];
  try {
    const page = await browser.context.newPage();
    page.on('pageerror', (err) => failures.push(`page error: ${err.message}`));
    await page.goto(`${served.origin}/index.html`);
    await page.waitForFunction(() => 'runSuite' in window, null, { timeout: 60000 });
    const webgpu = await page.evaluate(async () => {
      const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
      return gpu != null && (await gpu.requestAdapter()) != null;
    });
    console.log(`Chromium ${browser.context.browser()?.version() ?? ''} headless at ${served.origin}; webgpu adapter: ${webgpu ? 'yes' : 'no'}`);
    for (const backend of backends) {
      const results = await page.evaluate((b) => (window as unknown as { runSuite(b: string): Promise<CheckResult[]> }).runSuite(b), backend);
      for (const r of results) {
        console.log(`${r.ok ? '  ok  ' : 'FAILED'} [${r.backend}] ${r.name} (${r.ms.toFixed(0)} ms)${r.ok ? '' : `\n${r.detail}`}`);
        if (!r.ok) failures.push(`[${r.backend}] ${r.name}`);
      }
    }
  } finally {
    await browser.close();
    await served.stop();
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
