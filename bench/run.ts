/**
 * `npm run bench`: this package's BatchNormalization layer against tf.layers.batchNormalization,
 * LayerNormalization against tf.layers.layerNormalization, and GroupNormalization /
 * InstanceNormalization against a straightforward composite tf-ops layer, side by side in one run, on the `cpu` and `wasm` backends, for a training step (forward plus
 * backward for x, gamma and beta) and an inference forward. Prints one table (or JSON with
 * `--json`) and checks the performance targets (see BENCHMARKS.md). `--epochs` runs bench/epoch.ts instead.
 *
 * Method: per case, both layers are built on the same input; after warm-up runs, timed samples
 * alternate ours / built-in (so background load hits both alike), each after a full garbage
 * collection, and the median is reported. Every run reads all its results back (dataSync), so
 * the time includes the work.
 *
 * `--backend tensorflow` (or `--backends cpu,tensorflow`) adds tfjs-node's backend, loaded only
 * then (install it with `npm run install:tfjs-node`, see docs/tfjs-node.md).
 *
 * Usage: `npm run bench` | `npm run bench -- --json` | `npm run bench -- --quick` | `npm run bench -- --backends wasm` | `npm run bench -- --backend tensorflow`
 *        | `npm run bench -- --layers family` (or `bn`) | `npm run bench -- --cases 'GN,IN'` (name prefixes) | `npm run bench -- --epochs` (see epoch.ts)
 */
import * as v8 from 'v8';
import * as vm from 'vm';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { BatchNormalization } from '../src/layer/batch_normalization';
import { groupNormalization, instanceNormalization } from '../src/layer/group_normalization';
import { layerNormalization } from '../src/layer/layer_normalization';
import { FamilyCase, familyCases } from './family_cases';
import { machine } from './machine';
import { BenchCase, CASES, fmt, Mode, MODES, Row, slowerBeyondNoise, table } from './layer_table';
import { compareLayers } from './measure';

const BACKENDS = ['cpu', 'wasm'];

/** The native reference: PyTorch 1.13 CPU, one thread, dense training step. */
const NATIVE_DENSE_TRAIN_MS = 1.4;


/**
 * A full garbage collection before each timed sample (untimed), so neither layer pays for the
 * other's garbage: the built-in's cpu path allocates index arrays per element, and without this
 * its garbage is collected during our samples. Garbage a layer makes within its own sample is
 * still collected on its time. Enabled at run time, so the plain `ts-node` command works.
 */
const collectGarbage: () => void = (() => {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
})();


const FAMILY_CASES = familyCases({ layerNormalization, groupNormalization: (args) => groupNormalization(args), instanceNormalization });

function runCase(backend: string, c: BenchCase, mode: Mode, quick: boolean): Promise<Row> {
  const family = (c as FamilyCase).make?.();
  const ours = family?.ours ?? new BatchNormalization({ axis: c.axis });
  const reference = family?.reference ?? tf.layers.batchNormalization({ axis: c.axis });
  // The built-in LayerNormalization takes seconds per step on cpu and wasm: fewer samples there.
  const minRuns = quick ? 3 : family != null ? 5 : 11;
  return compareLayers(backend, c, mode, ours, reference,
    { minRuns, maxRuns: quick ? 10 : 100, budgetMs: quick ? 300 : 3000, gc: collectGarbage });
}

/** The performance targets, each with whether the measured rows meet it. */
function targets(rows: Row[]): Array<{ target: string; holds: boolean; detail: string }> {
  const find = (b: string, c: string, m: Mode) => rows.find((r) => r.backend === b && r.case.startsWith(c) && r.mode === m);
  const out: Array<{ target: string; holds: boolean; detail: string }> = [];
  // Training-step speedups: BatchNormalization (dense, NHWC) and LayerNormalization, per backend.
  const speedupTargets = [
    { cases: ['dense', 'NHWC'], factors: { cpu: 20, wasm: 3 } },
    { cases: ['LN [256, 1024]', 'LN [32, 128, 256]'], factors: { cpu: 50, wasm: 5 } },
  ];
  for (const { cases, factors } of speedupTargets) {
    for (const [backend, factor] of Object.entries(factors)) {
      for (const c of cases) {
        const r = find(backend, c, 'train');
        if (r == null) continue;
        out.push({
          target: `${backend} ${c} training step >= ${factor}x faster than built-in`,
          holds: r.speedup != null && r.speedup >= factor,
          detail: r.speedup == null ? 'built-in fails' : `${r.speedup.toFixed(1)}x`,
        });
      }
    }
  }
  const slower = rows.filter(slowerBeyondNoise);
  out.push({
    target: 'never slower than the built-in (ours longer in at least 3 rounds of 4)',
    holds: slower.length === 0,
    detail: slower.length === 0 ? `all ${rows.filter((r) => r.speedup != null).length} comparisons`
      : slower.map((r) => `${r.backend} ${r.case} ${r.mode} ${r.speedup!.toFixed(2)}x`).join('; '),
  });
  const dense = rows.filter((r) => r.case.startsWith('dense') && r.mode === 'train');
  if (dense.length === 0) return out;
  const best = Math.min(...dense.map((r) => r.oursMs));
  out.push({
    target: `dense training step within 3x of native ${NATIVE_DENSE_TRAIN_MS} ms (<= ${(3 * NATIVE_DENSE_TRAIN_MS).toFixed(1)} ms)`,
    holds: best <= 3 * NATIVE_DENSE_TRAIN_MS,
    detail: `best backend ${fmt(best)} ms = ${(best / NATIVE_DENSE_TRAIN_MS).toFixed(1)}x native`,
  });
  return out;
}

/** tfjs-node, which registers the `tensorflow` backend; not a dependency, so a clear error when absent. */
function loadTfjsNode(): void {
  try {
    require('@tensorflow/tfjs-node');
  } catch (e) {
    throw new Error(`--backend tensorflow needs @tensorflow/tfjs-node: install it with \`npm run install:tfjs-node\` ` +
      `(docs/tfjs-node.md). Loading it failed: ${(e as Error).message}`);
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--epochs')) {
    const { runEpochBench } = await import('./epoch');
    await runEpochBench(argv);
    return;
  }
  const json = argv.includes('--json');
  const quick = argv.includes('--quick');
  const only = Math.max(argv.indexOf('--backends'), argv.indexOf('--backend'));
  const backends = only >= 0 ? argv[only + 1].split(',') : BACKENDS;
  if (backends.includes('tensorflow')) loadTfjsNode();
  // `--layers bn` or `--layers family` runs one half; both by default.
  const layers = argv.indexOf('--layers') >= 0 ? argv[argv.indexOf('--layers') + 1] : 'bn,family';
  const picked = argv.indexOf('--cases') >= 0 ? argv[argv.indexOf('--cases') + 1].split(',') : null;
  const cases: BenchCase[] = [...(layers.includes('bn') ? CASES : []), ...(layers.includes('family') ? FAMILY_CASES : [])]
    .filter((c) => picked == null || picked.some((p) => c.name.startsWith(p)));
  const rows: Row[] = [];
  for (const backend of backends) {
    if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} failed to initialize`);
    for (const c of cases) {
      for (const mode of MODES) {
        const row = await runCase(backend, c, mode, quick);
        rows.push(row);
        if (!json) process.stderr.write(`  measured ${backend} ${c.name} ${mode}\n`);
      }
    }
  }
  const checks = targets(rows);
  const { line, ...about } = machine();
  if (json) {
    console.log(JSON.stringify({ machine: about, rows, targets: checks }, null, 2));
    return;
  }
  console.log(line);
  console.log(table(rows));
  console.log('\nMedians in ms; "built-in / ours" > 1 means ours is faster. "fails": the built-in throws.');
  if (cases.some((c) => (c as FamilyCase).make != null)) {
    console.log('LN rows: "built-in" is tf.layers.layerNormalization; GN / IN rows: a composite tf-ops layer (bench/composite_norm.ts).');
  }
  for (const r of rows.filter((row) => row.builtinError)) {
    console.log(`  built-in error (${r.backend}, ${r.case}, ${r.mode}): ${r.builtinError}`);
  }
  console.log('\nTargets:');
  for (const t of checks) console.log(`  [${t.holds ? 'met' : 'NOT met'}] ${t.target}: ${t.detail}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
