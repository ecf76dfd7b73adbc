import * as tf from '@tensorflow/tfjs';
import { CUSTOM_BN } from '../core/class_names';
import { BatchNormInputs, batchNormInference, batchNormTraining, movingAverage } from '../ops/batch_norm';
import { ghostBatchNormTraining } from '../ops/ghost_batch';
import { batchRenormTraining, renormUpdate, TrainingNormalization } from '../ops/renorm';
import { inTrainingMode } from './call_args';
import { freezeWithContainers } from './frozen_containers';
import { finiteIn, KnownArguments } from './keras_args';
import { Initializer, serializeKerasObject } from './keras_objects';
import { Kwargs, LayerVariable, NormalizationBase, NormalizationBaseArgs } from './normalization_base';
import { registerLayerClass } from './register_class';
import { parseRenormArgs, RenormArgs, renormConfig, RenormOptions } from './renorm_args';

type BuiltinArgs = NonNullable<Parameters<typeof tf.layers.batchNormalization>[0]>;

/** Constructor arguments: the built-in's, plus `axis` as a one-element list (Keras 2 JSON). */
export interface BatchNormalizationArgs extends NormalizationBaseArgs, RenormArgs,
  Pick<BuiltinArgs, 'momentum' | 'movingMeanInitializer' | 'movingVarianceInitializer'> {
  axis?: number | number[];
  /** Keras 3: batch statistics across devices; on one device the same as false. Kept in the config when true. */
  synchronized?: boolean;
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
 * Batch renormalization (`renorm: true`, Keras semantics, see ../ops/renorm.ts) corrects the
 * training output toward the `renorm_mean` / `renorm_stddev` moving statistics and adds the
 * weights `moving_stddev`, `renorm_mean`, `renorm_stddev` after the built-in's four. Ghost
 * batches (`virtualBatchSize`, tf.keras 2 semantics, see ../ops/ghost_batch.ts) normalize
 * groups of that many samples separately in training; the weights then take tf.keras's shape
 * (the input rank plus one, ones but on the feature axis). Inference is the same either way.
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
  readonly synchronized: boolean;
  private readonly movingInitializers: Record<'mean' | 'variance', Initializer>;
  private movingMean!: LayerVariable;
  private movingVariance!: LayerVariable;
  /** Batch renormalization and ghost-batch settings. */
  readonly renormOptions: RenormOptions;
  /** With renorm: moving_stddev, renorm_mean, renorm_stddev. */
  private renormState: Record<'movingStddev' | 'renormMean' | 'renormStddev', LayerVariable> | null = null;

  constructor(args: BatchNormalizationArgs = {}) {
    super(args, { fallback: [-1], list: false, expected: 'axis as an integer or a one-element list of one' });
    this.axis = this.axes[0];
    this.momentum = this.parseNumber('momentum', args.momentum, 0.99, 'a finite number in [0, 1]', (v) => finiteIn(v, 0, 1));
    this.synchronized = args.synchronized ?? false;
    this.movingInitializers = {
      mean: this.resolveInitializer(args.movingMeanInitializer, 'zeros'),
      variance: this.resolveInitializer(args.movingVarianceInitializer, 'ones'),
    };
    this.renormOptions = parseRenormArgs(args, (expected, received) => this.error(expected, received));
    // Freezing a model (trainable = false on any container around the layer) freezes the layer,
    // as in Keras. Installed by the first layer made, so importing the package patches nothing.
    freezeWithContainers(isBatchNormalization);
  }

  protected override kind(): string {
    return 'BatchNormalization';
  }

  /**
   * Besides the built-in's: renorm and ghost batches, Keras 3's `synchronized`, and Keras
   * arguments that cannot change the result here: tf.keras 2's `fused` (which TensorFlow kernel
   * to run) and `adjustment: null` (a Python function when set, which no config can carry).
   */
  protected override ownArguments(): KnownArguments {
    return {
      names: ['momentum', 'movingMeanInitializer', 'movingVarianceInitializer', 'renorm', 'renormClipping',
        'renormMomentum', 'virtualBatchSize', 'synchronized', 'fused'],
      nullOnly: ['adjustment'],
    };
  }

  /** Any axis, the batch axis 0 included when its size is defined (as the built-in and Keras). */
  protected override axisAllowed(axis: number, rank: number): boolean {
    return axis >= 0 && axis < rank;
  }

  protected override allowedAxes(rank: number): string {
    return `axis in [0, ${rank - 1}] or [-${rank}, -1] for rank ${rank}`;
  }

  /**
   * One value per channel of the feature axis; with ghost batches, tf.keras's shape: the input's
   * rank plus one (the ghost axis, inserted at 1), ones but on the feature axis.
   */
  protected override affineShape(shape: number[]): number[] {
    const axis = this.resolvedAxes[0];
    if (this.renormOptions.virtualBatchSize == null) return [shape[axis]];
    if (axis === 0) throw this.error('a feature axis other than the batch axis with virtualBatchSize', 'axis 0');
    const keras = shape.map((size, i) => (i === axis ? size : 1));
    keras.splice(1, 0, 1);
    return keras;
  }

  /** The moving statistics, after gamma and beta as in the built-in; then the renorm ones, as Keras orders them. */
  protected override buildState(shape: number[]): void {
    const paramShape = this.affineShape(shape);
    const add = (name: string, init: Initializer) => this.addWeight(name, paramShape, 'float32', init, undefined, false);
    this.movingMean = add('moving_mean', this.movingInitializers.mean);
    this.movingVariance = add('moving_variance', this.movingInitializers.variance);
    if (!this.renormOptions.renorm) return;
    // Keras starts both standard deviations at the square root of the variance initializer.
    const stddev = (name: string) => {
      const v = add(name, this.movingInitializers.variance);
      const root = tf.tidy(() => tf.sqrt(v.read()));
      v.write(root); // the variable takes its own reference
      root.dispose();
      return v;
    };
    this.renormState = {
      movingStddev: stddev('moving_stddev'),
      renormMean: add('renorm_mean', this.movingInitializers.mean),
      renormStddev: stddev('renorm_stddev'),
    };
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = this.checkInput(Array.isArray(inputs) ? inputs[0] : inputs);
      const mask = (kwargs['mask'] as tf.Tensor | undefined) ?? null;
      const weights = mask == null ? null : this.maskWeights(mask, x);
      const { gamma, beta } = this.affineParams();
      const args = { x, gamma: vector(gamma), beta: vector(beta), axis: this.resolvedAxes[0], epsilon: this.epsilon };
      // Keras semantics: training mode needs a truthy `training` (a saved one wins) and a trainable layer.
      if (!inTrainingMode(this, kwargs)) {
        return batchNormInference(args, vector(this.movingMean.read()), vector(this.movingVariance.read()));
      }
      if (x.size === 0) throw this.error('a non-empty batch in training', `shape ${JSON.stringify(x.shape)}`);
      const normalize = this.trainingNormalization(x, mask, weights);
      // A channel without any unmasked position has no batch statistics: its statistics stay.
      const seen = weights == null ? null : tf.greater(tf.sum(weights, this.reductionAxes(x.rank)), 0);
      const update: Update = (v, next) => assign(v, seen == null ? next : tf.where(seen, next, vector(v.read())));
      if (this.renormState != null) return this.renormStep(args, normalize, this.renormState, update);
      const { y, mean, variance } = normalize(args);
      for (const [moving, batch] of [[this.movingMean, mean], [this.movingVariance, variance]] as const) {
        update(moving, movingAverage(vector(moving.read()), batch, this.momentum));
      }
      mean.dispose();
      variance.dispose();
      return y;
    });
  }

  private reductionAxes(rank: number): number[] {
    return [...Array(rank).keys()].filter((i) => i !== this.resolvedAxes[0]);
  }

  /** The training-mode op: ghost batches, or the whole batch (masked positions, given as weights, left out). */
  private trainingNormalization(x: tf.Tensor, mask: tf.Tensor | null, weights: tf.Tensor | null): TrainingNormalization {
    const virtualBatchSize = this.renormOptions.virtualBatchSize;
    if (virtualBatchSize == null) return (a) => batchNormTraining(a, weights);
    if (mask != null) {
      throw this.error('no mask with virtualBatchSize (ghost batches)', `a mask of shape ${JSON.stringify(mask.shape)}`);
    }
    if (x.shape[0] % virtualBatchSize !== 0) {
      throw this.error(`a batch size that is a multiple of virtualBatchSize ${virtualBatchSize}`,
        `batch size ${x.shape[0]}`);
    }
    return (a) => {
      const { y, mean, variance, ghostMean, ghostVariance } = ghostBatchNormTraining(a, virtualBatchSize);
      tf.dispose([ghostMean, ghostVariance]);
      return { y, mean, variance };
    };
  }

  /** A renorm training step: corrected output, then the five statistics updated as Keras does. */
  private renormStep(args: BatchNormInputs, normalize: TrainingNormalization,
    state: Record<'movingStddev' | 'renormMean' | 'renormStddev', LayerVariable>, update: Update): tf.Tensor {
    const { y, mean, variance, r, d } = batchRenormTraining(args,
      { renormMean: vector(state.renormMean.read()), renormStddev: vector(state.renormStddev.read()) },
      this.renormOptions.clipping, normalize);
    const next = renormUpdate({
      renormMean: vector(state.renormMean.read()), renormStddev: vector(state.renormStddev.read()),
      movingMean: vector(this.movingMean.read()), movingStddev: vector(state.movingStddev.read()),
    }, mean, variance, { momentum: this.momentum, renormMomentum: this.renormOptions.momentum, epsilon: this.epsilon });
    update(state.renormMean, next.renormMean);
    update(state.renormStddev, next.renormStddev);
    update(this.movingMean, next.movingMean);
    update(state.movingStddev, next.movingStddev);
    update(this.movingVariance, next.movingVariance);
    tf.dispose([mean, variance, r, d, ...Object.values(next)]);
    return y;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...this.sharedConfig({
      // `synchronized` only when true, so the config stays the built-in's otherwise.
      afterAxis: { momentum: this.momentum, ...(this.synchronized ? { synchronized: true } : {}) },
      afterInitializers: {
        movingMeanInitializer: serializeKerasObject(this.movingInitializers.mean),
        movingVarianceInitializer: serializeKerasObject(this.movingInitializers.variance),
      },
    }), ...renormConfig(this.renormOptions) } as tf.serialization.ConfigDict;
  }
}

/** A weight as the per-channel vector the ops take (ghost-batch weights have extra unit axes). */
function vector<T extends tf.Tensor | null>(t: T): T {
  return (t == null || t.rank === 1 ? t : tf.reshape(t, [-1])) as T;
}

/** Writes a new per-channel value into a statistics weight (keeping channels the batch did not see). */
type Update = (v: LayerVariable, next: tf.Tensor) => void;

/** Writes a per-channel vector into a weight of its own shape. */
function assign(v: LayerVariable, value: tf.Tensor): void {
  v.write(value.rank === v.shape.length ? value : tf.reshape(value, v.shape as number[]));
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

function isBatchNormalization(layer: tf.layers.Layer): boolean {
  return layer instanceof BatchNormalization;
}
