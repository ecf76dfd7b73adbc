import * as tf from '@tensorflow/tfjs';
import { batchNormalization } from '../../src';
import { seededRandom } from '../../examples/common/data';

/** The three kinds of network the experiments compare. */
export type NetKind = 'plain' | 'bn' | 'noisy-bn';

/** Labels used in tables and chart legends. */
export const NET_LABELS: Record<NetKind, string> = {
  plain: 'without BN',
  bn: 'with BN',
  'noisy-bn': 'with noisy BN',
};

const COLORS: Record<string, string> = {
  [NET_LABELS.plain]: '#e45756',
  [NET_LABELS.bn]: '#4c78a8',
  [NET_LABELS['noisy-bn']]: '#54a24b',
};

/**
 * The same color for a network in every chart: a vega-lite color `scale` for the given networks.
 *
 * Usage: `color: { field: 'network', type: 'nominal', scale: netColors(['without BN', 'with BN']) }`
 */
export function netColors(networks: string[]): { domain: string[]; range: string[] } {
  return { domain: networks, range: networks.map((n) => COLORS[n] ?? '#888888') };
}

/**
 * "Noisy BatchNorm" of Santurkar et al. (2018): after a BN layer, in training only, each unit is
 * scaled and shifted by noise that changes at every step (`resample()`), so the distribution the
 * next layer sees has a non-zero mean and a non-unit variance that move all the time: an explicit
 * internal covariate shift. Per unit j and step: y_j * s_j + m_j, s_j ~ U(0.5, 1.5),
 * m_j ~ U(-1, 1). Inference uses the noise's expectation (s = 1, m = 0), i.e. the identity.
 */
export class NoisyShift extends tf.layers.Layer {
  static className = 'ExperimentNoisyShift';
  private scale: tf.Tensor | null = null;
  private shift: tf.Tensor | null = null;
  private readonly rand: () => number;

  constructor(args: { seed: number; name?: string }) {
    super({ name: args.name });
    this.rand = seededRandom(args.seed);
  }

  /** Draws new noise; the experiments call it once per training step. */
  resample(units: number): void {
    tf.dispose([this.scale, this.shift].filter((t): t is tf.Tensor => t != null));
    const draw = (lo: number, hi: number) => Array.from({ length: units }, () => lo + (hi - lo) * this.rand());
    this.scale = tf.keep(tf.tensor1d(draw(0.5, 1.5)));
    this.shift = tf.keep(tf.tensor1d(draw(-1, 1)));
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { [key: string]: unknown }): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (kwargs['training'] !== true) return tf.clone(x);
    if (!this.scale || this.scale.shape[0] !== x.shape[x.rank - 1]) this.resample(x.shape[x.rank - 1] as number);
    return tf.tidy(() => x.mul(this.scale!).add(this.shift!));
  }

  override dispose(): ReturnType<tf.layers.Layer['dispose']> {
    tf.dispose([this.scale, this.shift].filter((t): t is tf.Tensor => t != null));
    this.scale = null;
    this.shift = null;
    return super.dispose();
  }
}

export interface MlpNetOptions {
  kind: NetKind;
  hidden: number[];
  seed: number;
  inputSize?: number;
  classes?: number;
  /** BN momentum (0.9: short runs need moving averages that catch up). */
  momentum?: number;
  /** Hidden activation (default relu). */
  activation?: 'relu' | 'sigmoid' | 'tanh';
  /** Dropout rate after every hidden activation (default none). */
  dropout?: number;
  /**
   * Multiplier of the hidden kernels' initial standard deviation (default 1: He normal, stddev
   * sqrt(2 / fan-in)); 10 means weights ten times larger than the usual initialization.
   */
  initScale?: number;
}

/**
 * MLP for the experiments: Dense -> [BN -> [noise]] -> ReLU (or the given activation) -> [dropout]
 * per hidden layer, softmax output.
 * Dense layers keep their bias only without BN (BN's beta makes it redundant). Same seeds for
 * every kind, so the networks start from the same kernels.
 *
 * Usage: `const model = mlpNet({ kind: 'bn', hidden: [64, 64], seed: 1 });`
 */
export function mlpNet(options: MlpNetOptions): tf.Sequential {
  const { kind, hidden, seed } = options;
  const model = tf.sequential({ name: `mlp_${kind.replace('-', '_')}` });
  hidden.forEach((units, i) => {
    model.add(tf.layers.dense({
      units, useBias: kind === 'plain', name: `dense${i + 1}`,
      kernelInitializer: options.initScale == null ? tf.initializers.heNormal({ seed: seed + i })
        : tf.initializers.varianceScaling({ scale: 2 * options.initScale ** 2, mode: 'fanIn', distribution: 'normal', seed: seed + i }),
      ...(i === 0 ? { inputShape: [options.inputSize ?? 784] } : {}),
    }));
    if (kind !== 'plain') model.add(batchNormalization({ momentum: options.momentum ?? 0.9, name: `bn${i + 1}` }));
    if (kind === 'noisy-bn') model.add(new NoisyShift({ seed: seed * 1000 + i, name: `noise${i + 1}` }));
    model.add(tf.layers.activation({ activation: options.activation ?? 'relu', name: `${options.activation ?? 'relu'}${i + 1}` }));
    if (options.dropout) model.add(tf.layers.dropout({ rate: options.dropout, seed: seed + 200 + i, name: `dropout${i + 1}` }));
  });
  model.add(tf.layers.dense({
    units: options.classes ?? 10, activation: 'softmax', name: 'classes',
    kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 100 }),
  }));
  return model;
}

/** The model's noise layers (empty unless noisy BN). */
export function noiseLayers(model: tf.LayersModel): NoisyShift[] {
  return model.layers.filter((l): l is NoisyShift => l instanceof NoisyShift);
}
