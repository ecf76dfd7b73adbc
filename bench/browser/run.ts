/**
 * `npm run bench:browser`: the layer table of `npm run bench` inside headless Chromium, on the
 * webgl and webgpu (both SwiftShader: on the CPU, so their times indicate ratios, not GPU speed),
 * wasm and cpu backends, in one page load; on webgpu the family's cases too (LN, GN, IN). Prints
 * the table (or JSON with `--json`), whether this package is ever slower than the built-in, and
 * the webgpu LayerNormalization target. Exits non-zero when webgpu is asked for and Chromium
 * offers no adapter.
 *
 * Usage: `npm run bench:browser` | `npm run bench:browser -- --quick` | `npm run bench:browser -- --backends webgpu`
 */
import * as path from 'path';
import { launchChromium } from '../../scripts/browser/chromium';
import { ROOT, serve } from '../../scripts/browser/serve';
import { Row, slowerBeyondNoise, table } from '../layer_table';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const quick = argv.includes('--quick');
  const json = argv.includes('--json');
  const only = argv.indexOf('--backends');
  const backends = only >= 0 ? argv[only + 1].split(',') : ['webgl', 'webgpu', 'wasm', 'cpu'];
  const served = await serve({
    dir: path.join(ROOT, '.cache', 'browser-bench'),
    entries: { bench: 'bench/browser/page.ts' },
    files: { 'index.html': '<!doctype html><meta charset="utf-8"><title>tfjs-batchnorm browser bench</title><script type="module" src="/bench.js"></script>\n' },
  });
  const browser = await launchChromium(['--js-flags=--expose-gc']);
  const rows: Row[] = [];
  let webgpu = false;
  let version = '';
  try {
    const page = await browser.context.newPage();
    page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
    await page.goto(`${served.origin}/index.html`);
    await page.waitForFunction(() => 'runBench' in window, null, { timeout: 60000 });
    version = browser.context.browser()?.version() ?? '';
    webgpu = await page.evaluate(async () => {
      const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
      return gpu != null && (await gpu.requestAdapter()) != null;
    });
    if (!webgpu && backends.includes('webgpu')) throw new Error('webgpu: Chromium offers no adapter (see scripts/browser/chromium.ts for the flags)');
    for (const backend of backends) {
      if (!json) process.stderr.write(`  measuring ${backend} ...\n`);
      rows.push(...await page.evaluate(([b, q]) =>
        (window as unknown as { runBench(b: string, q: boolean): Promise<Row[]> }).runBench(b, q), [backend, quick] as [string, boolean]));
    }
  } finally {
    await browser.close();
    await served.stop();
  }
  if (json) {
    console.log(JSON.stringify({ chromium: version, webgpu, rows }, null, 2));
    return;
  }
  console.log(`Headless Chromium ${version}; webgl and webgpu through SwiftShader (CPU), so times indicate ratios, not GPU speed.`);
  console.log(`webgpu: ${webgpu ? 'a SwiftShader adapter' : 'no adapter'}.\n`);
  console.log(table(rows));
  console.log('\nMedians in ms; "built-in / ours" > 1 means ours is faster; "per round": the same ratio within each\n'
    + 'alternating round, its lower and upper quartiles. "fails": the built-in throws.');
  for (const r of rows.filter((row) => row.builtinError)) {
    console.log(`  built-in error (${r.backend}, ${r.case}, ${r.mode}): ${r.builtinError}`);
  }
  const slower = rows.filter(slowerBeyondNoise);
  const level = rows.filter((r) => r.speedup != null && r.speedup < 1 && !slowerBeyondNoise(r));
  const list = (rs: Row[]) => rs.map((r) => `${r.backend} ${r.case} ${r.mode} ${r.speedup!.toFixed(2)}x`).join('; ');
  console.log(slower.length === 0 ? '\nNever slower than the built-in (slower: ours took longer in at least 3 rounds of 4).'
    : `\nSlower than the built-in (ours took longer in at least 3 rounds of 4): ${list(slower)}`);
  if (level.length > 0) console.log(`Median below 1 but level within noise (rounds go both ways): ${list(level)}`);
  for (const c of ['LN [256, 1024]', 'LN [32, 128, 256]']) {
    const r = rows.find((row) => row.backend === 'webgpu' && row.case === c && row.mode === 'train');
    if (r?.speedup != null) console.log(`Target webgpu ${c} training step >= 3x the built-in: ${r.speedup >= 3 ? 'met' : 'NOT met'} (${r.speedup.toFixed(2)}x)`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
