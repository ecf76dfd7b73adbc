import * as tf from '@tensorflow/tfjs';
import { CUSTOM_LN } from '../core/class_names';
import { layerView, NormView } from '../core/view';
import { normalize, scaleByStatistic } from '../ops/normalize';
import { KnownArguments } from './keras_args';
import { Kwargs, NormalizationBase, NormalizationBaseArgs } from './normalization_base';
import { registerLayerClass } from './register_class';

/** Constructor arguments: the built-in's, plus constraints and Keras 3's `rmsScaling`. */
export interface LayerNormalizationArgs extends NormalizationBaseArgs {
  /** The axis or axes to normalize over, contiguous (e.g. `-1`, `[1, 2, 3]`). Default `-1`. */
  axis?: number | number[];
  /**
   * Keras 3's deprecated `rms_scaling`: `y = gamma * x / sqrt(var(x) + epsilon)`, no centering
   * and no beta (Keras's own warning: it divides by the standard deviation, not the root mean
   * square). Default false.
   */
  rmsScaling?: boolean;
}

/**
 * Layer normalization (Ba et al. 2016), a drop-in for `tf.layers.layerNormalization` with a
 * hand-written gradient and fused cpu / wasm kernels.
 *
 * Each sample is normalized with the mean and biased variance of its own values over `axis`
 * (default the last), then scaled by `gamma` and shifted by `beta`, both shaped like the
 * normalized axes. Training and inference compute the same thing: nothing depends on the batch.
 *
 * Saved models name this layer `TfjsLayerNormalization`, so stock `LayerNormalization` layers
 * keep loading as the built-in.
 *
 * Usage: `model.add(new LayerNormalization({ axis: -1, epsilon: 1e-3 }));`
 */
/**
 * The normalizations over a contiguous run of axes of each sample (LayerNormalization,
 * RMSNormalization, UnitNormalization): any axes, the batch axis included (as in Keras), sorted
 * and contiguous; gamma and beta take the normalized axes' shape.
 */
export abstract class AxesNormalization extends NormalizationBase {
  constructor(args: NormalizationBaseArgs = {}) {
    super(args, { fallback: [-1], list: true, expected: 'axis as an integer or a list of integers' });
  }

  protected override axisAllowed(axis: number, rank: number): boolean {
    return axis >= 0 && axis < rank;
  }

  protected override allowedAxes(rank: number): string {
    return `distinct axes in [0, ${rank - 1}] or [-${rank}, -1] for rank ${rank}`;
  }

  /** The normalized axes, sorted (as Keras sorts them), must be contiguous. */
  protected override checkShape(): void {
    const sorted = this.sortedAxes();
    if (sorted.some((a, i) => i > 0 && a !== sorted[i - 1] + 1)) {
      throw this.error('contiguous axes (e.g. [1, 2, 3])', `axis ${JSON.stringify(this.axisConfig())}`);
    }
  }

  protected override affineShape(shape: number[]): number[] {
    return this.sortedAxes().map((a) => shape[a]);
  }

  /** The view of an input: one statistic per position outside the normalized axes. */
  protected viewOf(x: tf.Tensor): NormView {
    const sorted = this.sortedAxes();
    return layerView(x.shape, sorted[0], sorted[sorted.length - 1]);
  }

  private sortedAxes(): number[] {
    return [...this.resolvedAxes].sort((a, b) => a - b);
  }
}

class LayerNormalizationLayer extends AxesNormalization {
  static className = CUSTOM_LN;

  readonly rmsScaling: boolean;

  constructor(args: LayerNormalizationArgs = {}) {
    super(args);
    this.rmsScaling = args.rmsScaling ?? false;
  }

  protected override kind(): string {
    return 'LayerNormalization';
  }

  protected override ownArguments(): KnownArguments {
    return { names: ['rmsScaling'] };
  }

  /** With rmsScaling, Keras keeps gamma and drops beta. */
  protected override affineWeights(): Record<'gamma' | 'beta', string | null> {
    return this.rmsScaling ? { gamma: 'gamma', beta: null } : super.affineWeights();
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = this.checkInput(Array.isArray(inputs) ? inputs[0] : inputs);
      const args = { x, ...this.affineParams(), view: this.viewOf(x), epsilon: this.epsilon };
      // rms_scaling divides by the standard deviation without centering (Keras's formula).
      return this.rmsScaling ? scaleByStatistic(args, (x5) => tf.moments(x5, [1, 3, 4]).variance) : normalize(args);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...this.sharedConfig(), rmsScaling: this.rmsScaling };
  }
}

/** The layer class (shared with any other copy of this package loaded alongside this one). */
export const LayerNormalization = registerLayerClass(LayerNormalizationLayer);
export type LayerNormalization = LayerNormalizationLayer;

/**
 * Factory mirroring `tf.layers.layerNormalization(args)`.
 *
 * Usage: `tf.sequential({ layers: [tf.layers.dense({ units: 8, inputShape: [4] }), layerNormalization()] })`
 */
export function layerNormalization(args?: LayerNormalizationArgs): LayerNormalization {
  return new LayerNormalization(args);
}
