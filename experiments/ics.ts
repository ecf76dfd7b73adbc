/**
 * Internal covariate shift, measured two ways, without and with BatchNormalization (same MLP, data,
 * seeds and SGD):
 * 1. Distribution shift of each hidden layer's input to its normalization: the pre-activation
 *    z = W a (before BN where there is one), per unit, on a fixed batch of test digits. Between
 *    two epochs, the shift is the mean over units of |mean now - mean before| / std before (in
 *    units of the old spread, so networks of different scales compare). Measuring after BN would
 *    show mean ≈ beta and std ≈ gamma by construction, so it is not used.
 * 2. Santurkar et al. (2018)'s gradient-based measure: for hidden layer l, the gradient G of the
 *    loss for its kernel, and G' the same gradient after the layers before l took their SGD step
 *    on the same batch. ||G - G'|| / ||G|| and cos(G, G') say how much layer l's problem changed
 *    because the layers before it moved, which is what "internal covariate shift" means for
 *    optimization.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { runCli } from '../examples/common/cli';
import { formatTable } from '../examples/common/table';
import { disposeModel, fitWithProgress, testAccuracy } from '../examples/common/train';
import { ChartFiles, ChartSpec, writeChart } from './common/charts';
import { mlpNet, netColors, NET_LABELS, NetKind } from './common/nets';
import {
  experimentCli, experimentOptions, forEachSeed, ExperimentInput, ExperimentOptions, formatSpread, resolveOptions, spread, spreadChart,
} from './common/seeds';

export const ICS_DEFAULTS: ExperimentOptions = {
  epochs: 5, samples: 1000, testSamples: 500, batchSize: 32, out: 'models/experiments', seed: 21, bars: false, seeds: 3,
};
export const ICS_QUICK: Partial<ExperimentOptions> = { epochs: 2, samples: 100, testSamples: 50, seeds: 2 };

/** SGD learning rate of the runs (and of the step taken for Santurkar's measure). */
export const ICS_LEARNING_RATE = 0.05;
/** Hidden layers; shifts are reported for layers 2 and 3 (layer 1 sees the fixed images). */
const HIDDEN = [64, 64, 64];
const WATCHED = [2, 3];

/** One row per network, seed, epoch and watched layer. */
export interface IcsRow {
  network: string;
  seed: number;
  epoch: number;
  layer: number;
  /** Mean over units of |mean_j(now) - mean_j(previous epoch)| / std_j(previous epoch) of z (before BN). */
  shift: number;
  /** Mean over units of the std of z (before BN). */
  zStd: number;
  /** Santurkar et al.: ||G - G'|| / ||G|| for the layer's kernel. */
  gradChange: number;
  /** cos(G, G'). */
  gradCosine: number;
}

export interface IcsResult {
  rows: IcsRow[];
  testAccuracy: Record<string, number[]>;
  chart: ChartFiles;
}

/** Per-unit mean and std of every watched layer's pre-activation z on `probe`. */
function unitMoments(model: tf.LayersModel, probe: tf.Tensor): Array<{ mean: number[]; std: number[] }> {
  return tf.tidy(() => {
    const outputs = WATCHED.map((l) => model.getLayer(`dense${l}`).output as tf.SymbolicTensor);
    const zs = tf.model({ inputs: model.inputs, outputs }).predict(probe) as tf.Tensor[];
    return zs.map((z) => {
      const m = tf.moments(z, 0);
      return { mean: Array.from(m.mean.dataSync()), std: Array.from(tf.sqrt(m.variance).dataSync()) };
    });
  });
}

/** Santurkar et al.'s measure for every watched layer on one batch; restores every weight afterwards. */
export function gradientShift(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, lr: number): Array<{ change: number; cosine: number }> {
  const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const owner = new Map<tf.Variable, number>();
  model.layers.forEach((layer, i) => layer.trainableWeights.forEach((w) => owner.set(w.read() as tf.Variable, i)));
  const loss = () => tf.mean(tf.metrics.categoricalCrossentropy(y, model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar;
  const saved = model.weights.map((w) => w.read().clone());
  const restore = () => model.weights.forEach((w, k) => w.write(saved[k]));
  try {
    const { value, grads } = tf.variableGrads(loss, trainable);
    value.dispose();
    restore();
    const result = WATCHED.map((l) => {
      const layerIndex = model.layers.indexOf(model.getLayer(`dense${l}`));
      const kernel = model.getLayer(`dense${l}`).trainableWeights[0].read() as tf.Variable;
      // Step every weight of the layers before this one, as SGD would.
      trainable.filter((v) => (owner.get(v) ?? Infinity) < layerIndex).forEach((v) => {
        const moved = tf.tidy(() => tf.sub(v, tf.mul(grads[v.name], lr)));
        v.assign(moved);
        moved.dispose();
      });
      const after = tf.variableGrads(loss, [kernel]);
      const [g, g2] = [grads[kernel.name], after.grads[kernel.name]];
      const out = tf.tidy(() => ({
        change: tf.norm(tf.sub(g2, g)).dataSync()[0] / tf.norm(g).dataSync()[0],
        cosine: tf.sum(tf.mul(g, g2)).dataSync()[0] / (tf.norm(g).dataSync()[0] * tf.norm(g2).dataSync()[0]),
      }));
      tf.dispose([after.value, g2]);
      restore();
      return out;
    });
    tf.dispose(Object.values(grads));
    return result;
  } finally {
    restore();
    tf.dispose(saved);
  }
}

/**
 * Trains both networks for every seed, measures after every epoch, prints the table and writes
 * `<out>/ics.svg|png`.
 *
 * Usage: `const r = await main({ quick: true, out: '/tmp/x' });`
 */
export async function main(options: ExperimentInput = {}): Promise<IcsResult> {
  const opts = resolveOptions(ICS_DEFAULTS, ICS_QUICK, options);
  await tf.setBackend('cpu');
  const rows: IcsRow[] = [];
  const testAcc: Record<string, number[]> = { [NET_LABELS.plain]: [], [NET_LABELS.bn]: [] };
  await forEachSeed(opts, async (seed, data) => {
    const probe = data.xTest.slice(0, Math.min(256, data.xTest.shape[0]));
    const [xb, yb] = [data.xTrain.slice(0, 64), data.yTrain.slice(0, 64)];
    try {
      for (const kind of ['plain', 'bn'] as NetKind[]) {
        const network = NET_LABELS[kind];
        const model = mlpNet({ kind, hidden: HIDDEN, seed });
        model.compile({ optimizer: tf.train.sgd(ICS_LEARNING_RATE), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
        let previous = unitMoments(model, probe);
        const recorder = new tf.CustomCallback({
          onEpochEnd: async (epoch) => {
            const now = unitMoments(model, probe);
            const grad = gradientShift(model, xb, yb, ICS_LEARNING_RATE);
            WATCHED.forEach((layer, k) => {
              const [p, c] = [previous[k], now[k]];
              const shift = c.mean.reduce((s, m, j) => s + Math.abs(m - p.mean[j]) / Math.max(p.std[j], 1e-6), 0) / c.mean.length;
              rows.push({
                network, seed, epoch: epoch + 1, layer, shift, zStd: c.std.reduce((a, b) => a + b, 0) / c.std.length,
                gradChange: grad[k].change, gradCosine: grad[k].cosine,
              });
            });
            previous = now;
          },
        });
        try {
          await fitWithProgress(model, data.xTrain, data.yTrain, { ...opts, seed }, `${network} seed ${seed}`, [recorder]);
          testAcc[network].push(testAccuracy(model, data.xTest, data.yTest));
        } finally {
          disposeModel(model);
        }
      }
    } finally {
      tf.dispose([probe, xb, yb]);
    }
  });
  const networks = [NET_LABELS.plain, NET_LABELS.bn];
  const epochs = Array.from(new Set(rows.map((r) => r.epoch)));
  console.log(formatTable(networks.flatMap((network) => WATCHED.flatMap((layer) => epochs.map((epoch) => {
    const rs = rows.filter((r) => r.network === network && r.layer === layer && r.epoch === epoch);
    return {
      network, layer, epoch, 'shift of z (in old stds)': formatSpread(spread(rs.map((r) => r.shift))),
      'std of z': formatSpread(spread(rs.map((r) => r.zStd))),
      'gradient change (relative L2)': formatSpread(spread(rs.map((r) => r.gradChange))), 'gradient cosine': formatSpread(spread(rs.map((r) => r.gradCosine))),
    };
  }))), { title: `\nInternal covariate shift of hidden layers ${WATCHED.join(', ')} (MNIST MLP 3x64, SGD ${ICS_LEARNING_RATE}); mean ± sd (min–max) over ${opts.seeds} seeds` }));
  console.log(formatTable(networks.map((network) => ({
    network, 'mean shift, all epochs and layers': formatSpread(spread(rows.filter((r) => r.network === network).map((r) => r.shift))),
    'mean gradient change (relative L2)': formatSpread(spread(rows.filter((r) => r.network === network).map((r) => r.gradChange))),
    'test accuracy': formatSpread(spread(testAcc[network])),
  }))));
  const chart = await writeChart(icsChart(rows), path.join(opts.out, 'ics'));
  console.log(`chart: ${chart.svg}${chart.png ? ` and ${chart.png}` : ''}`);
  return { rows, testAccuracy: testAcc, chart };
}

/** Two panels per epoch: distribution shift of z, and Santurkar's relative gradient change (means over layers 2 and 3). */
export function icsChart(rows: IcsRow[]): ChartSpec {
  const networks = [NET_LABELS.plain, NET_LABELS.bn];
  const panels = [
    { name: 'shift', yTitle: 'shift of layer inputs z (old stds)' },
    { name: 'grad', yTitle: "gradient change ||G - G'|| / ||G||" },
  ];
  const seeds = Array.from(new Set(rows.map((r) => r.seed)));
  const epochs = Array.from(new Set(rows.map((r) => r.epoch)));
  const perSeed = (network: string, epoch: number, field: 'shift' | 'gradChange') => seeds.map((seed) => {
    const rs = rows.filter((r) => r.network === network && r.epoch === epoch && r.seed === seed);
    return rs.reduce((s, r) => s + r[field], 0) / rs.length;
  });
  const points = networks.flatMap((network) => epochs.flatMap((epoch) => [
    { series: network, x: epoch, panel: 'shift', values: perSeed(network, epoch, 'shift') },
    { series: network, x: epoch, panel: 'grad', values: perSeed(network, epoch, 'gradChange') },
  ]));
  const overall = (network: string, field: 'shift' | 'gradChange') => spread(rows.filter((r) => r.network === network).map((r) => r[field])).mean;
  const [sp, sb, gp, gb] = [overall(networks[0], 'shift'), overall(networks[1], 'shift'), overall(networks[0], 'gradChange'), overall(networks[1], 'gradChange')];
  const word = (a: number, b: number) => (b < 0.8 * a ? 'lower' : b > 1.25 * a ? 'higher' : 'about the same');
  return spreadChart({
    title: `With BN, the layer-input shift is ${word(sp, sb)} (${sb.toFixed(3)} vs ${sp.toFixed(3)}) and Santurkar's gradient shift is ${word(gp, gb)} (${gb.toFixed(3)} vs ${gp.toFixed(3)})`,
    subtitle: [
      'shift: mean over units of |change of the unit mean since the last epoch| / its old std, for z before BN, on 256 test digits',
      `gradient change: G, G' = kernel gradient before and after the earlier layers' SGD step; means over hidden layers ${WATCHED.join(' and ')}`,
    ],
    points, panels, xTitle: 'epoch', xScale: 'linear', colors: netColors(networks),
  });
}

if (require.main === module) {
  const program = experimentCli('npm run experiment:ics --', 'Internal covariate shift with and without BN: layer-input shift and Santurkar\'s gradient measure.', ICS_DEFAULTS);
  runCli(() => main(experimentOptions(program.parse())));
}
