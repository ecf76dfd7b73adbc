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
 * Usage: `npm run bench` | `npm run bench -- --json` | `npm run bench -- --quick` | `npm run bench -- --backends wasm`
 *        | `npm run bench -- --layers family` (or `bn`) | `npm run bench -- --cases 'GN,IN'` (name prefixes) | `npm run bench -- --epochs` (see epoch.ts)
 */
import * as v8 from 'v8';
import * as vm from 'vm';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { BatchNormalization } from '../src/layer/batch_normalization';
import { groupNormalization, instanceNormalization } from '../src/layer/group_normalization';
import { layerNormalization } from '../src/layer/layer_normalization';
import { CompositeGroupNorm } from './composite_norm';
import { median } from '../src/core/timing';
import { machine } from './machine';
import { BenchCase, CASES, fmt, Mode, MODES, Row, table } from './layer_table';

const BACKENDS = ['cpu', 'wasm'];

/** The native reference: PyTorch 1.13 CPU, one thread, dense training step. */
const NATIVE_DENSE_TRAIN_MS = 1.4;


/** One measured step: returns a function that runs it once and reads everything back. */
function makeStep(layer: tf.layers.Layer, x: tf.Tensor, dy: tf.Tensor, mode: Mode): () => void {
  if (mode === 'infer') {
    return () => tf.tidy(() => { (layer.apply(x) as tf.Tensor).dataSync(); });
  }
  const xVar = tf.variable(x, true);
  const params = layer.trainableWeights.map((w) => w.read() as tf.Variable);
  return () => tf.tidy(() => {
    // Forward + backward for x, gamma, beta with an upstream gradient dy: no loss ops timed.
    const { value, grads } = tf.engine().gradients(
      () => layer.apply(xVar, { training: true }) as tf.Tensor, [xVar, ...params], dy);
    value.dataSync();
    grads.forEach((g) => g.dataSync());
  });
}

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

/** Mean time of `reps` back-to-back calls, in ms. */
function timeSample(step: () => void, reps: number): number {
  collectGarbage();
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < reps; r++) step();
  return Number(process.hrtime.bigint() - t0) / 1e6 / reps;
}

/** Runs until the JIT has settled: at least 2 calls, up to 10 or about a second. */
function warmUp(step: () => void): number {
  let calls = 0;
  let last = 0;
  const t0 = process.hrtime.bigint();
  while (calls < 2 || (calls < 10 && Number(process.hrtime.bigint() - t0) / 1e6 < 1000)) {
    last = timeSample(step, 1);
    calls++;
  }
  return last;
}

/**
 * Warm-up, then timed samples alternating between the steps (so background load hits both
 * alike) until each has `minRuns` samples and ~`budgetMs` is spent. A sample repeats the step
 * back to back for ~20 ms, which lifts sub-millisecond steps above timer noise and keeps each
 * step's own garbage collection in its time.
 */
function measure(steps: Array<(() => void) | null>, minRuns: number, maxRuns: number, budgetMs: number) {
  const times: number[][] = steps.map(() => []);
  const reps = steps.map((s) => (s == null ? 0 : Math.max(1, Math.min(500, Math.round(20 / Math.max(warmUp(s), 1e-3))))));
  let spent = 0;
  let runs = 0;
  for (; runs < maxRuns && (runs < minRuns || spent < budgetMs); runs++) {
    steps.forEach((s, i) => {
      if (s == null) return;
      const t = timeSample(s, reps[i]);
      times[i].push(t);
      spent += t * reps[i];
    });
  }
  return { medians: times.map((t) => (t.length ? median(t) : null)), runs, reps };
}

/** The normalization family's cases: ours against tfjs's built-in (LN) or a composite tf-ops layer (GN, IN). */
interface FamilyCase extends BenchCase {
  make: () => { ours: tf.layers.Layer; reference: tf.layers.Layer };
}

const FAMILY_CASES: FamilyCase[] = [
  { name: 'LN [256, 1024]', shape: [256, 1024], axis: -1,
    make: () => ({ ours: layerNormalization(), reference: tf.layers.layerNormalization() }) },
  { name: 'LN [32, 128, 256]', shape: [32, 128, 256], axis: -1,
    make: () => ({ ours: layerNormalization(), reference: tf.layers.layerNormalization() }) },
  { name: 'GN(8) [8, 32, 32, 64]', shape: [8, 32, 32, 64], axis: -1,
    make: () => ({ ours: groupNormalization({ groups: 8 }), reference: new CompositeGroupNorm(8) }) },
  { name: 'IN [8, 32, 32, 64]', shape: [8, 32, 32, 64], axis: -1,
    make: () => ({ ours: instanceNormalization(), reference: new CompositeGroupNorm(64) }) },
];

function runCase(backend: string, c: BenchCase, mode: Mode, quick: boolean): Row {
  const x = tf.tidy(() => tf.add(tf.mul(tf.randomNormal(c.shape), 2), 0.5));
  const dy = tf.randomNormal(c.shape);
  const family = (c as FamilyCase).make?.();
  const ours = family?.ours ?? new BatchNormalization({ axis: c.axis });
  const builtin = family?.reference ?? tf.layers.batchNormalization({ axis: c.axis });
  ours.build(c.shape);
  builtin.build(c.shape);
  const oursStep = makeStep(ours, x, dy, mode);
  let builtinStep: (() => void) | null = makeStep(builtin, x, dy, mode);
  let builtinError: string | undefined;
  try {
    builtinStep();
  } catch (e) {
    builtinError = (e as Error).message.split('\n')[0].slice(0, 100);
    builtinStep = null;
  }
  // The built-in LayerNormalization takes seconds per step on cpu and wasm: fewer samples there.
  const minRuns = quick ? 3 : family != null ? 5 : 11;
  const { medians: [oursMs, builtinMs], runs, reps } = measure([oursStep, builtinStep], minRuns, quick ? 10 : 100, quick ? 300 : 3000);
  tf.dispose([x, dy]);
  tf.disposeVariables();
  return {
    backend, case: c.name, mode, oursMs: oursMs as number, builtinMs,
    speedup: builtinMs != null ? builtinMs / (oursMs as number) : null,
    runs, reps: reps[0], builtinError,
  };
}

/** The performance targets, each with whether the measured rows meet it. */
function targets(rows: Row[]): Array<{ target: string; holds: boolean; detail: string }> {
  const find = (b: string, c: string, m: Mode) => rows.find((r) => r.backend === b && r.case.startsWith(c) && r.mode === m);
  const out: Array<{ target: string; holds: boolean; detail: string }> = [];
  for (const [backend, factor] of [['cpu', 20], ['wasm', 3]] as const) {
    for (const c of ['dense', 'NHWC']) {
      const r = find(backend, c, 'train');
      if (r == null) continue;
      out.push({
        target: `${backend} ${c} training step >= ${factor}x faster than built-in`,
        holds: r.speedup != null && r.speedup >= factor,
        detail: r.speedup == null ? 'built-in fails' : `${r.speedup.toFixed(1)}x`,
      });
    }
  }
  for (const [backend, factor] of [['cpu', 50], ['wasm', 5]] as const) {
    for (const c of ['LN [256, 1024]', 'LN [32, 128, 256]']) {
      const r = find(backend, c, 'train');
      if (r == null) continue;
      out.push({
        target: `${backend} ${c} training step >= ${factor}x faster than built-in`,
        holds: r.speedup != null && r.speedup >= factor,
        detail: r.speedup == null ? 'built-in fails' : `${r.speedup.toFixed(1)}x`,
      });
    }
  }
  const slower = rows.filter((r) => r.speedup != null && r.speedup < 1);
  out.push({
    target: 'never slower than the built-in',
    holds: slower.length === 0,
    detail: slower.length === 0 ? `all ${rows.filter((r) => r.speedup != null).length} comparisons`
      : slower.map((r) => `${r.backend} ${r.case} ${r.mode} ${r.speedup!.toFixed(2)}x`).join('; '),
  });
  const best = Math.min(...rows.filter((r) => r.case.startsWith('dense') && r.mode === 'train').map((r) => r.oursMs));
  out.push({
    target: `dense training step within 3x of native ${NATIVE_DENSE_TRAIN_MS} ms (<= ${(3 * NATIVE_DENSE_TRAIN_MS).toFixed(1)} ms)`,
    holds: best <= 3 * NATIVE_DENSE_TRAIN_MS,
    detail: `best backend ${fmt(best)} ms = ${(best / NATIVE_DENSE_TRAIN_MS).toFixed(1)}x native`,
  });
  return out;
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
  const only = argv.indexOf('--backends');
  const backends = only >= 0 ? argv[only + 1].split(',') : BACKENDS;
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
        const row = runCase(backend, c, mode, quick);
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
