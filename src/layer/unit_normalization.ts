import * as tf from '@tensorflow/tfjs';
import { UNIT_NORM } from '../core/class_names';
import { scaleByStatistic } from '../ops/normalize';
import { AxesNormalization } from './layer_normalization';
import { Kwargs, NormalizationBaseArgs } from './normalization_base';
import { registerLayerClass } from './register_class';

/** Constructor arguments: Keras 3's `axis` and the usual layer arguments. */
export type UnitNormalizationArgs = Pick<NormalizationBaseArgs, 'axis' | 'name' | 'trainable' | 'inputShape' |
  'batchInputShape' | 'batchSize' | 'dtype'>;

/** Keras's floor on the sum of squares, so an all-zero sample gives zeros (not NaN). */
const MIN_SQUARED_NORM = 1e-12;

/**
 * Scales each sample to unit L2 norm over `axis` (default the last; a list of contiguous axes is
 * accepted), as Keras 3's `UnitNormalization`: `y = x / sqrt(max(sum(x^2), 1e-12))`. No weights.
 * The sum of squares is computed by tf ops and the scaling runs the normalization kernels, so
 * autodiff through the floor gives Keras's gradient, floor included.
 *
 * Usage: `model.add(new UnitNormalization({ axis: -1 }));`
 */
class UnitNormalizationLayer extends AxesNormalization {
  static className = UNIT_NORM;

  protected override kind(): string {
    return 'UnitNormalization';
  }

  protected override sharedArguments(): readonly string[] {
    return ['axis'];
  }

  /** No weights. */
  protected override affineWeights(): Record<'gamma' | 'beta', string | null> {
    return { gamma: null, beta: null };
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = this.checkInput(Array.isArray(inputs) ? inputs[0] : inputs);
      return scaleByStatistic({ x, gamma: null, beta: null, view: this.viewOf(x), epsilon: 0 },
        (x5) => tf.maximum(tf.sum(tf.square(x5), [1, 3, 4]), MIN_SQUARED_NORM));
    });
  }

  /** Keras's keys: `axis` besides the base layer's. */
  override getConfig(): tf.serialization.ConfigDict {
    return { ...this.layerConfig(), axis: this.axisConfig() };
  }
}

/** The layer class (shared with any other copy of this package loaded alongside this one). */
export const UnitNormalization = registerLayerClass(UnitNormalizationLayer);
export type UnitNormalization = UnitNormalizationLayer;

/**
 * Factory for UnitNormalization, named like tfjs's layer factories.
 *
 * Usage: `tf.sequential({ layers: [tf.layers.dense({ units: 8, inputShape: [4] }), unitNormalization()] })`
 */
export function unitNormalization(args?: UnitNormalizationArgs): UnitNormalization {
  return new UnitNormalization(args);
}
