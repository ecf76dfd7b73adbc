import * as tf from '@tensorflow/tfjs';
import { RMS_NORM } from '../core/class_names';
import { normalize } from '../ops/normalize';
import { AxesNormalization } from './layer_normalization';
import { Kwargs, NormalizationBaseArgs } from './normalization_base';
import { registerLayerClass } from './register_class';

/** Constructor arguments: Keras 3's (`axis`, `epsilon`) and the usual layer arguments. */
export type RMSNormalizationArgs = Omit<NormalizationBaseArgs, 'center' | 'scale' | 'betaInitializer' |
  'gammaInitializer' | 'betaRegularizer' | 'gammaRegularizer' | 'betaConstraint' | 'gammaConstraint'>;

/**
 * Root mean square normalization (Zhang and Sennrich, "Root Mean Square Layer Normalization",
 * 2019), as Keras 3's `RMSNormalization` and PyTorch's `F.rms_norm`:
 * `y = x / sqrt(mean(x^2) + epsilon) * scale`, the mean over `axis` (default the last; a list of
 * contiguous axes is accepted), one weight `scale` shaped like the normalized axes (ones at
 * first). Nothing is subtracted and nothing added. Runs the normalization kernels with the mean
 * taken as zero, so its gradient is analytic like the other layers'.
 *
 * Usage: `model.add(new RMSNormalization({ axis: -1, epsilon: 1e-6 }));`
 */
class RMSNormalizationLayer extends AxesNormalization {
  static className = RMS_NORM;

  protected override kind(): string {
    return 'RMSNormalization';
  }

  protected override sharedArguments(): readonly string[] {
    return ['axis', 'epsilon'];
  }

  protected override defaultEpsilon(): number {
    return 1e-6;
  }

  /** One weight, `scale` (Keras's name), ones at first; nothing added. */
  protected override affineWeights(): Record<'gamma' | 'beta', string | null> {
    return { gamma: 'scale', beta: null };
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = this.checkInput(Array.isArray(inputs) ? inputs[0] : inputs);
      return normalize({ x, ...this.affineParams(), view: this.viewOf(x), epsilon: this.epsilon, center: false });
    });
  }

  /** Keras's keys: `axis` and `epsilon` besides the base layer's. */
  override getConfig(): tf.serialization.ConfigDict {
    return { ...this.layerConfig(), axis: this.axisConfig(), epsilon: this.epsilon };
  }
}

/** The layer class (shared with any other copy of this package loaded alongside this one). */
export const RMSNormalization = registerLayerClass(RMSNormalizationLayer);
export type RMSNormalization = RMSNormalizationLayer;

/**
 * Factory for RMSNormalization, named like tfjs's layer factories.
 *
 * Usage: `tf.sequential({ layers: [tf.layers.dense({ units: 8, inputShape: [4] }), rmsNormalization()] })`
 */
export function rmsNormalization(args?: RMSNormalizationArgs): RMSNormalization {
  return new RMSNormalization(args);
}
