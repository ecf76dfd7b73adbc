/**
 * Small batches and the alternatives to BatchNormalization: the same small MNIST network with no
 * normalization, BatchNormalization, batch renormalization (Ioffe 2017), GroupNormalization (Wu &
 * He 2018), LayerNormalization (Ba et al. 2016) and InstanceNormalization (Ulyanov et al. 2016),
 * trained at batch sizes from 2 to 128 with several seeds. BN's statistics come from the batch,
 * so they get noisy as the batch shrinks and differ from the moving averages used at inference;
 * the other three take statistics per sample, so they should not care about the batch size;
 * batch renormalization keeps batch statistics but corrects them toward the moving averages.
 * Two networks: a CNN (`--network cnn`, the default), whose BN averages each channel over the
 * batch and every position, and an MLP (`--network mlp`), whose BN has one value per feature
 * and sample, so only the batch supplies its statistics.
 * A layer this package does not provide (yet), or that does not apply to the network, is left
 * out and named in the output.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import * as pkg from '../src';
import { runCli } from '../examples/common/cli';
import { formatTable } from '../examples/common/table';
import { disposeModel, fitWithProgress, testAccuracy } from '../examples/common/train';
import { ChartFiles, ChartSpec, writeChart } from './common/charts';
import {
  experimentCli, experimentOptions, forEachSeed, ExperimentInput, ExperimentOptions, formatSpread, resolveOptions, seriesColors, spread, spreadChart,
} from './common/seeds';

/** The two networks: a small CNN, or an MLP with two hidden layers of 64. */
export type SmallBatchNetwork = 'cnn' | 'mlp';

export interface SmallBatchOptions extends ExperimentOptions {
  network: SmallBatchNetwork;
  /** Adam's learning rate. */
  learningRate: number;
  batchSizes: number[];
  /** Only the layers whose label contains one of these (case-insensitive); default all available. */
  layers?: string[];
  /**
   * Results of an earlier run (its printed table, parsed), drawn and printed alongside this run's:
   * one entry per layer and batch size with the mean, min and max over its seeds.
   */
  previous?: PreviousPoint[];
}

/** One layer at one batch size from an earlier run. */
export interface PreviousPoint {
  layer: string;
  batchSize: number;
  mean: number;
  sd: number;
  min: number;
  max: number;
}

export const SMALL_BATCH_DEFAULTS: SmallBatchOptions = {
  epochs: 2, samples: 400, testSamples: 500, batchSize: 32, out: 'models/experiments', seed: 121, bars: false, seeds: 3,
  network: 'cnn', learningRate: 2e-3, batchSizes: [2, 8, 32, 128],
};
/** The MLP's defaults: the settings of the batch-size experiment, where BN breaks at batch 2. */
export const SMALL_BATCH_MLP_DEFAULTS: SmallBatchOptions = {
  ...SMALL_BATCH_DEFAULTS, network: 'mlp', epochs: 3, samples: 1000, learningRate: 1e-3,
};
export const SMALL_BATCH_QUICK: Partial<SmallBatchOptions> = { epochs: 1, samples: 10, testSamples: 10, seeds: 2, batchSizes: [5, 10] };

/** Groups of the GroupNormalization variant (the CNN's 8 and 16 channels, the MLP's 64 features, split evenly). */
export const GROUPS = 4;

/** A normalization layer factory: called once per normalized conv output. */
type Make = (name: string) => tf.layers.Layer;

export interface Variant {
  label: string;
  /** null: the layer is not available in this package (yet); `reason` says why. */
  make: Make | null;
  reason?: string;
}

/** A package factory by name, if this version of the package exports it. */
function factory(name: string): ((args: Record<string, unknown>) => tf.layers.Layer) | null {
  const f = (pkg as unknown as Record<string, unknown>)[name];
  return typeof f === 'function' ? (f as (args: Record<string, unknown>) => tf.layers.Layer) : null;
}

/** Whether the package's BatchNormalization accepts `renorm: true` (its config reports it back). */
function hasRenorm(): boolean {
  try {
    const layer = pkg.batchNormalization({ renorm: true } as pkg.BatchNormalizationArgs);
    return (layer.getConfig() as Record<string, unknown>)['renorm'] === true;
  } catch {
    return false;
  }
}

/**
 * The compared layers, in legend order; those the package does not export, or that do not apply
 * to the network, are returned with `make: null` and the reason.
 *
 * Usage: `const available = normalizationVariants('cnn').filter((v) => v.make);`
 */
export function normalizationVariants(network: SmallBatchNetwork = 'cnn'): Variant[] {
  const missing = (what: string) => `${what} is not in this version of the package`;
  const gn = factory('groupNormalization');
  const ln = factory('layerNormalization');
  const inorm = factory('instanceNormalization');
  return [
    { label: 'no normalization', make: (name) => tf.layers.activation({ activation: 'linear', name }) },
    { label: 'BatchNormalization', make: (name) => pkg.batchNormalization({ momentum: 0.9, name }) },
    hasRenorm()
      // Clipping at Ioffe's final values (r in [1/3, 3], |d| <= 5); momenta 0.9 for these short runs.
      ? { label: 'batch renormalization', make: (name) => pkg.batchNormalization({
        momentum: 0.9, renorm: true, renormMomentum: 0.9, renormClipping: { rmax: 3, rmin: 1 / 3, dmax: 5 }, name,
      } as pkg.BatchNormalizationArgs) }
      : { label: 'batch renormalization', make: null, reason: missing('batchNormalization({ renorm: true })') },
    gn ? { label: `GroupNormalization (${GROUPS} groups)`, make: (name) => gn({ groups: GROUPS, name }) }
      : { label: `GroupNormalization (${GROUPS} groups)`, make: null, reason: missing('groupNormalization') },
    // In the CNN over height, width and channels of each sample, as in Ba et al. and Wu & He's
    // comparison; tfjs's own layer (same math, autodiff gradient) where this package has none.
    ln ? { label: 'LayerNormalization', make: (name) => ln({ axis: network === 'cnn' ? [1, 2, 3] : -1, name }) }
      : { label: 'LayerNormalization (tfjs built-in)', make: (name) => tf.layers.layerNormalization({ axis: network === 'cnn' ? [1, 2, 3] : -1, name }) },
    network === 'mlp'
      // Each dense feature alone is a group of one value: its mean is the value, so the layer
      // would output beta whatever the input.
      ? { label: 'InstanceNormalization', make: null, reason: 'one value per group on dense features: it would output beta alone' }
      : inorm ? { label: 'InstanceNormalization', make: (name) => inorm({ name }) }
        : { label: 'InstanceNormalization', make: null, reason: missing('instanceNormalization') },
  ];
}

/**
 * The CNN: two stride-2 3x3 convolutions (8 and 16 channels, no bias), each followed by the
 * normalization and ReLU, then a softmax Dense layer on the flattened 7x7x16 map.
 *
 * Usage: `const model = smallCnn(variant.make!, 1);`
 */
export function smallCnn(make: Make, seed: number): tf.Sequential {
  const model = tf.sequential();
  [8, 16].forEach((filters, i) => {
    model.add(tf.layers.conv2d({
      filters, kernelSize: 3, strides: 2, padding: 'same', useBias: false, name: `conv${i + 1}`,
      kernelInitializer: tf.initializers.heNormal({ seed: seed + i }), ...(i === 0 ? { inputShape: [28, 28, 1] } : {}),
    }));
    model.add(make(`norm${i + 1}`));
    model.add(tf.layers.activation({ activation: 'relu', name: `relu${i + 1}` }));
  });
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 100 }) }));
  return model;
}

/**
 * The MLP: two hidden dense layers of 64 (no bias), each followed by the normalization and ReLU,
 * then a softmax Dense layer, on flattened 28x28 digits.
 *
 * Usage: `const model = smallMlp(variant.make!, 1);`
 */
export function smallMlp(make: Make, seed: number): tf.Sequential {
  const model = tf.sequential();
  [64, 64].forEach((units, i) => {
    model.add(tf.layers.dense({
      units, useBias: false, name: `dense${i + 1}`, kernelInitializer: tf.initializers.heNormal({ seed: seed + i }),
      ...(i === 0 ? { inputShape: [784] } : {}),
    }));
    model.add(make(`norm${i + 1}`));
    model.add(tf.layers.activation({ activation: 'relu', name: `relu${i + 1}` }));
  });
  model.add(tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 100 }) }));
  return model;
}

/** What each network is, for the table title and the chart. */
const NETWORK_TEXT: Record<SmallBatchNetwork, string> = {
  cnn: 'MNIST CNN: two stride-2 3x3 convolutions (8, 16 channels), each followed by the layer and ReLU',
  mlp: 'MNIST MLP: two dense layers of 64, each followed by the layer and ReLU',
};

export interface SmallBatchRow {
  layer: string;
  batchSize: number;
  seed: number;
  testAccuracy: number;
  /** Training-mode accuracy of the last epoch. */
  trainAccuracy: number;
}

export interface SmallBatchResult {
  rows: SmallBatchRow[];
  /** Layers left out, with the reason. */
  missing: Array<{ layer: string; reason: string }>;
  chart: ChartFiles;
}

/**
 * Trains the CNN with every available layer, batch size and seed; prints the table and writes
 * `<out>/small-batch.svg|png`.
 *
 * Usage: `const r = await main({ quick: true, out: '/tmp/x' });`
 */
export async function main(options: ExperimentInput<SmallBatchOptions> = {}): Promise<SmallBatchResult> {
  if (options.network != null && !['cnn', 'mlp'].includes(options.network)) {
    throw new Error(`small-batch: expected network 'cnn' or 'mlp', but received '${options.network}'`);
  }
  const defaults = options.network === 'mlp' ? SMALL_BATCH_MLP_DEFAULTS : SMALL_BATCH_DEFAULTS;
  const opts = resolveOptions(defaults, SMALL_BATCH_QUICK, options);
  await tf.setBackend('cpu');
  const all = normalizationVariants(opts.network);
  const build = opts.network === 'mlp' ? smallMlp : smallCnn;
  const wanted = (label: string) => !opts.layers || opts.layers.some((l) => label.toLowerCase().includes(l.toLowerCase()));
  const variants = all.filter((v) => v.make != null && wanted(v.label));
  const missing = all.filter((v) => v.make == null).map((v) => ({ layer: v.label, reason: v.reason ?? '' }));
  missing.forEach((m) => console.log(`left out: ${m.layer} (${m.reason})`));
  const rows: SmallBatchRow[] = [];
  await forEachSeed(opts, async (seed, data) => {
    for (const v of variants) {
      for (const batchSize of opts.batchSizes) {
        const model = build(v.make as Make, seed);
        model.compile({ optimizer: tf.train.adam(opts.learningRate), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
        try {
          const fit = await fitWithProgress(model, data.xTrain, data.yTrain, { ...opts, batchSize, seed }, `${v.label} batch ${batchSize} seed ${seed}`);
          const acc = testAccuracy(model, data.xTest, data.yTest);
          rows.push({ layer: v.label, batchSize, seed, testAccuracy: Number.isFinite(acc) ? acc : 0, trainAccuracy: fit.acc[fit.acc.length - 1] });
        } finally {
          disposeModel(model);
        }
      }
    }
  }, opts.network === 'cnn' ? 'nhwc' : 'flat');
  const labels = variants.map((v) => v.label);
  const previous = (opts.previous ?? []).filter((p) => !labels.includes(p.layer));
  const previousLabels = Array.from(new Set(previous.map((p) => p.layer)));
  const cell = (layer: string, b: number) => {
    const p = previous.find((q) => q.layer === layer && q.batchSize === b);
    return p ? formatSpread({ ...p, n: opts.seeds }) : formatSpread(spread(rows.filter((r) => r.layer === layer && r.batchSize === b).map((r) => r.testAccuracy)));
  };
  console.log(formatTable([...previousLabels, ...labels].map((layer) => Object.fromEntries([['layer', layer], ...opts.batchSizes.map((b) => [`batch ${b}`, cell(layer, b)])])),
  { title: `\nTest accuracy by batch size (${NETWORK_TEXT[opts.network]}; Adam ${opts.learningRate}, ${opts.epochs} epochs on ${opts.samples} digits; mean ± sd (min–max) over ${opts.seeds} seeds)${previous.length ? `; ${previousLabels.join(', ')}: from the earlier run given` : ''}` }));
  const chart = await writeChart(smallBatchChart(rows, labels, missing.filter((m) => !previousLabels.includes(m.layer)), previous, opts),
    path.join(opts.out, opts.network === 'cnn' ? 'small-batch' : 'small-batch-mlp'));
  console.log(`chart: ${chart.svg}${chart.png ? ` and ${chart.png}` : ''}`);
  return { rows, missing, chart };
}

/** A layer's short name, for the chart's one-line summary. */
function shortLabel(label: string): string {
  const short: Record<string, string> = {
    'no normalization': 'none', BatchNormalization: 'BN', 'batch renormalization': 'renorm', LayerNormalization: 'LN', InstanceNormalization: 'IN',
  };
  return short[label] ?? (label.startsWith('GroupNormalization') ? 'GN' : label);
}

/** Test accuracy against batch size (log 2), one line per layer. */
export function smallBatchChart(rows: SmallBatchRow[], runLabels: string[], missing: SmallBatchResult['missing'], previous: PreviousPoint[] = [],
  opts: Pick<SmallBatchOptions, 'network' | 'seeds' | 'learningRate'> = SMALL_BATCH_DEFAULTS): ChartSpec {
  const { seeds } = opts;
  const sizes = Array.from(new Set([...rows.map((r) => r.batchSize), ...previous.map((p) => p.batchSize)])).sort((a, b) => a - b);
  // Order of the legend: the order of normalizationVariants(), whichever run a layer came from.
  const order = normalizationVariants(opts.network).map((v) => v.label);
  const labels = Array.from(new Set([...runLabels, ...previous.map((p) => p.layer)]))
    .sort((a, b) => (order.indexOf(a) === -1 ? 99 : order.indexOf(a)) - (order.indexOf(b) === -1 ? 99 : order.indexOf(b)));
  const points = runLabels.flatMap((layer) => sizes.map((b) => ({
    series: layer, x: b, values: rows.filter((r) => r.layer === layer && r.batchSize === b).map((r) => r.testAccuracy),
  })));
  const at = (layer: string, b: number) => previous.find((p) => p.layer === layer && p.batchSize === b)?.mean
    ?? spread(rows.filter((r) => r.layer === layer && r.batchSize === b).map((r) => r.testAccuracy)).mean;
  const small = sizes[0];
  const best = labels.reduce((a, b) => (at(b, small) > at(a, small) ? b : a), labels[0]);
  const worst = labels.reduce((a, b) => (at(b, small) < at(a, small) ? b : a), labels[0]);
  const spreadAtSmall = at(best, small) - at(worst, small);
  const spec = spreadChart({
    title: spreadAtSmall < 0.05
      ? `At batch ${small} all layers are within ${spreadAtSmall.toFixed(2)} of each other (BN ${at('BatchNormalization', small).toFixed(2)}, best ${best} ${at(best, small).toFixed(2)})`
      : `At batch ${small}, ${worst} falls to ${at(worst, small).toFixed(2)} while ${best} keeps ${at(best, small).toFixed(2)}`
        + (worst === 'BatchNormalization' ? '' : `; BN ${at('BatchNormalization', small).toFixed(2)}`),
    subtitle: [
      `at batch ${small}: ${[...labels].sort((a, b) => at(b, small) - at(a, small)).map((l) => `${shortLabel(l)} ${at(l, small).toFixed(2)}`).join(', ')}`,
      `${NETWORK_TEXT[opts.network]}; Adam ${opts.learningRate}; same epochs for every batch size`,
      ...missing.map((m) => `not run: ${m.layer} (${m.reason})`),
    ],
    points, xTitle: 'batch size (samples, log 2 scale)', yTitle: 'test accuracy (fraction correct)', xScale: 'log2', width: 520, height: 300,
    spreadOver: `${seeds} seeds`, xValues: sizes,
    colors: seriesColors(labels, { 'no normalization': '#e45756', BatchNormalization: '#4c78a8', 'batch renormalization': '#72b7b2' }),
  });
  // An earlier run's layers: its means and min–max ranges, drawn like this run's.
  const data = (spec as { data: { values: Array<Record<string, unknown>> } }).data.values;
  previous.forEach((p) => data.push({ series: p.layer, x: p.batchSize, panel: '', mean: p.mean, lo: p.min, hi: p.max }));
  return spec;
}

if (require.main === module) {
  const program = experimentCli('npm run experiment:small-batch --', 'BN, batch renorm, Group/Layer/Instance normalization across batch sizes.', SMALL_BATCH_DEFAULTS)
    .option('--network <cnn|mlp>', 'the network: the CNN or an MLP with two hidden layers of 64 (its own defaults: 3 epochs on 1000 digits, Adam 1e-3)', 'cnn')
    .option('--learning-rate <lr>', 'Adam\'s learning rate (default 2e-3 for the CNN, 1e-3 for the MLP)', Number)
    .option('--batch-sizes <list>', 'comma-separated batch sizes', (v) => v.split(',').map(Number), SMALL_BATCH_DEFAULTS.batchSizes)
    .option('--layers <list>', 'only these layers (comma-separated parts of their names, e.g. renorm,group)', (v) => v.split(','))
    .option('--previous <file>', 'JSON list of {layer, batchSize, mean, sd, min, max} from an earlier run, drawn alongside');
  runCli(() => {
    const options = experimentOptions<SmallBatchOptions & { previous: unknown }>(program.parse());
    const file = program.opts().previous as string | undefined;
    return main({ ...options, previous: file ? JSON.parse(fs.readFileSync(file, 'utf8')) as PreviousPoint[] : undefined });
  });
}
