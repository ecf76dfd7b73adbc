import * as tf from '@tensorflow/tfjs';
import { CUSTOM_BN } from '../core/class_names';
import { batchNormInference, batchNormTraining, movingAverage } from '../ops/batch_norm';
import { freezeWithContainers } from './frozen_containers';
import { Initializer, serializeKerasObject } from './keras_objects';
import { Kwargs, LayerVariable, NormalizationBase, NormalizationBaseArgs } from './normalization_base';
import { registerLayerClass } from './register_class';

type BuiltinArgs = NonNullable<Parameters<typeof tf.layers.batchNormalization>[0]>;

/** Constructor arguments: the built-in's, plus `axis` as a one-element list (Keras 2 JSON). */
export interface BatchNormalizationArgs extends NormalizationBaseArgs,
  Pick<BuiltinArgs, 'momentum' | 'movingMeanInitializer' | 'movingVarianceInitializer'> {
  axis?: number | number[];
}

/**
 * Batch normalization layer, a drop-in for `tf.layers.batchNormalization` with a hand-written
 * gradient.
 *
 * Training vs inference: with `training: true` in the call kwargs (as `model.fit` and
 * `trainOnBatch` pass it), the layer normalizes each feature with the mean and biased variance of
 * the current batch (masked positions excluded), scales by `gamma`, shifts by `beta`, and moves
 * `moving_mean` / `moving_variance` toward the batch statistics by `1 - momentum`. Otherwise
 * (`predict`, `evaluate`) it uses the moving statistics.
 *
 * `trainable = false` (Keras semantics): the layer always runs in inference mode, even inside
 * `fit`, and never updates its moving statistics, so a frozen pretrained model stays intact.
 *
 * Saved models name this layer `TfjsBatchNormalization`, so stock `BatchNormalization` layers in
 * other models keep loading as the built-in.
 *
 * Usage: `model.add(new BatchNormalization({ axis: -1, momentum: 0.99 }));`
 */
class BatchNormalizationLayer extends NormalizationBase {
  static className = CUSTOM_BN;

  /** The feature axis as given (possibly negative). */
  readonly axis: number;
  readonly momentum: number;
  private readonly movingInitializers: Record<'mean' | 'variance', Initializer>;
  private movingMean!: LayerVariable;
  private movingVariance!: LayerVariable;

  constructor(args: BatchNormalizationArgs = {}) {
    super(args, { fallback: [-1], list: false, expected: 'axis as an integer or a one-element list of one' });
    this.axis = this.axes[0];
    this.momentum = args.momentum ?? 0.99;
    if (!(this.momentum >= 0 && this.momentum <= 1)) {
      throw this.error(`momentum in [0, 1]`, String(args.momentum));
    }
    this.movingInitializers = {
      mean: this.resolveInitializer(args.movingMeanInitializer, 'zeros'),
      variance: this.resolveInitializer(args.movingVarianceInitializer, 'ones'),
    };
  }

  protected override kind(): string {
    return 'BatchNormalization';
  }

  /** One value per channel of the feature axis. */
  protected override affineShape(shape: number[]): number[] {
    return [shape[this.resolvedAxes[0]]];
  }

  /** The moving statistics, after gamma and beta as in the built-in. */
  protected override buildState(shape: number[]): void {
    const channels = this.affineShape(shape);
    const add = (name: string, init: Initializer) => this.addWeight(name, channels, 'float32', init, undefined, false);
    this.movingMean = add('moving_mean', this.movingInitializers.mean);
    this.movingVariance = add('moving_variance', this.movingInitializers.variance);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      this.checkInput(x);
      const args = { x, ...this.affineParams(), axis: this.resolvedAxes[0], epsilon: this.epsilon };
      // Keras semantics: a frozen layer runs in inference mode even while the model trains.
      if (kwargs['training'] !== true || !this.trainable) {
        return batchNormInference(args, this.movingMean.read(), this.movingVariance.read());
      }
      const mask = (kwargs['mask'] as tf.Tensor | undefined) ?? null;
      const { y, mean, variance } = batchNormTraining(args, mask == null ? null : this.checkMask(mask, x));
      this.movingMean.write(movingAverage(this.movingMean.read(), mean, this.momentum));
      this.movingVariance.write(movingAverage(this.movingVariance.read(), variance, this.momentum));
      mean.dispose();
      variance.dispose();
      return y;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return this.sharedConfig({
      afterAxis: { momentum: this.momentum },
      afterInitializers: {
        movingMeanInitializer: serializeKerasObject(this.movingInitializers.mean),
        movingVarianceInitializer: serializeKerasObject(this.movingInitializers.variance),
      },
    });
  }
}

/** The layer class (shared with any other copy of this package loaded alongside this one). */
export const BatchNormalization = registerLayerClass(BatchNormalizationLayer);
export type BatchNormalization = BatchNormalizationLayer;

/**
 * Factory mirroring `tf.layers.batchNormalization(args)`.
 *
 * Usage: `tf.sequential({ layers: [tf.layers.dense({ units: 8, inputShape: [4] }), batchNormalization()] })`
 */
export function batchNormalization(args?: BatchNormalizationArgs): BatchNormalization {
  return new BatchNormalization(args);
}
// Freezing a model (trainable = false on any container around the layer) freezes the layer, as in Keras.
freezeWithContainers((layer) => layer instanceof BatchNormalization);
