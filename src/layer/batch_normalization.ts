import * as tf from '@tensorflow/tfjs';
import { batchNormInference, batchNormTraining, movingAverage } from '../ops/batch_norm';
import { normalizeAxis } from '../ops/feature_view';
import { Constraint, Initializer, Regularizer, resolveKerasObject, serializeKerasObject } from './keras_objects';
import { freezeWithContainers } from './frozen_containers';
import { registerLayerClass } from './register_class';
import { assertSingleTfjsOnce } from './single_tfjs';

type BuiltinArgs = NonNullable<Parameters<typeof tf.layers.batchNormalization>[0]>;
type LayerVariable = ReturnType<tf.layers.Layer['addWeight']>;
type Kwargs = { [key: string]: unknown };

/** Constructor arguments: the built-in's, plus `axis` as a one-element list (Keras 2 JSON). */
export interface BatchNormalizationArgs extends Omit<BuiltinArgs, 'axis'> {
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
class BatchNormalizationLayer extends tf.layers.Layer {
  static className = 'TfjsBatchNormalization';

  readonly axis: number;
  readonly momentum: number;
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  private readonly initializers: Record<'beta' | 'gamma' | 'movingMean' | 'movingVariance', Initializer>;
  private readonly betaRegularizer: Regularizer | null;
  private readonly gammaRegularizer: Regularizer | null;
  private readonly betaConstraint: Constraint | null;
  private readonly gammaConstraint: Constraint | null;

  private gamma: LayerVariable | null = null;
  private beta: LayerVariable | null = null;
  private movingMean!: LayerVariable;
  private movingVariance!: LayerVariable;
  private resolvedAxis = -1;

  constructor(args: BatchNormalizationArgs = {}) {
    super(args);
    assertSingleTfjsOnce();
    this.supportsMasking = true;
    this.axis = this.parseAxis(args.axis);
    this.momentum = args.momentum ?? 0.99;
    this.epsilon = args.epsilon ?? 1e-3;
    this.center = args.center ?? true;
    this.scale = args.scale ?? true;
    if (!(this.momentum >= 0 && this.momentum <= 1)) {
      throw this.error(`momentum in [0, 1]`, String(args.momentum));
    }
    if (!(this.epsilon > 0)) throw this.error(`epsilon > 0`, String(args.epsilon));
    const init = (id: unknown, fallback: string) => resolveKerasObject<Initializer>(id ?? fallback, 'initializer')!;
    this.initializers = {
      beta: init(args.betaInitializer, 'zeros'),
      gamma: init(args.gammaInitializer, 'ones'),
      movingMean: init(args.movingMeanInitializer, 'zeros'),
      movingVariance: init(args.movingVarianceInitializer, 'ones'),
    };
    this.betaRegularizer = resolveKerasObject<Regularizer>(args.betaRegularizer, 'regularizer');
    this.gammaRegularizer = resolveKerasObject<Regularizer>(args.gammaRegularizer, 'regularizer');
    this.betaConstraint = resolveKerasObject<Constraint>(args.betaConstraint, 'constraint');
    this.gammaConstraint = resolveKerasObject<Constraint>(args.gammaConstraint, 'constraint');
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    if (shape.length < 2) {
      throw this.error('an input of rank >= 2 (batch and features)', `shape ${JSON.stringify(shape)}`);
    }
    const axis = normalizeAxis(this.axis, shape.length);
    if (axis == null || axis === 0) {
      throw this.error(`axis in [1, ${shape.length - 1}] or [-${shape.length - 1}, -1] for rank ${shape.length}`,
        `axis ${this.axis}`);
    }
    const channels = shape[axis];
    if (channels == null) {
      throw this.error(`a defined size on feature axis ${axis}`, `shape ${JSON.stringify(shape)}`);
    }
    this.resolvedAxis = axis;
    this.inputSpec = [{ ndim: shape.length, axes: { [axis]: channels } }];
    const add = (name: string, init: Initializer, reg: Regularizer | null, trainable: boolean, c: Constraint | null) =>
      this.addWeight(name, [channels], 'float32', init, reg ?? undefined, trainable, c ?? undefined);
    // Same order and names as the built-in, so getWeights()/setWeights() interoperate.
    if (this.scale) this.gamma = add('gamma', this.initializers.gamma, this.gammaRegularizer, true, this.gammaConstraint);
    if (this.center) this.beta = add('beta', this.initializers.beta, this.betaRegularizer, true, this.betaConstraint);
    this.movingMean = add('moving_mean', this.initializers.movingMean, null, false, null);
    this.movingVariance = add('moving_variance', this.initializers.movingVariance, null, false, null);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      this.checkInput(x);
      const args = {
        x,
        gamma: this.gamma?.read() ?? null,
        beta: this.beta?.read() ?? null,
        axis: this.resolvedAxis,
        epsilon: this.epsilon,
      };
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

  /** The mask passes through unchanged: normalization does not mask anything new. */
  override computeMask(_inputs: tf.Tensor | tf.Tensor[], mask?: tf.Tensor | tf.Tensor[]): tf.Tensor | tf.Tensor[] {
    return mask as tf.Tensor;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      axis: this.axis,
      momentum: this.momentum,
      epsilon: this.epsilon,
      center: this.center,
      scale: this.scale,
      betaInitializer: serializeKerasObject(this.initializers.beta),
      gammaInitializer: serializeKerasObject(this.initializers.gamma),
      movingMeanInitializer: serializeKerasObject(this.initializers.movingMean),
      movingVarianceInitializer: serializeKerasObject(this.initializers.movingVariance),
      betaRegularizer: serializeKerasObject(this.betaRegularizer),
      gammaRegularizer: serializeKerasObject(this.gammaRegularizer),
      betaConstraint: serializeKerasObject(this.betaConstraint),
      gammaConstraint: serializeKerasObject(this.gammaConstraint),
      ...super.getConfig(),
    } as tf.serialization.ConfigDict;
  }

  private parseAxis(axis: number | number[] | undefined): number {
    const value = Array.isArray(axis) && axis.length === 1 ? axis[0] : axis ?? -1;
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      throw this.error('axis as an integer or a one-element list of one', JSON.stringify(axis));
    }
    return value;
  }

  private checkInput(x: tf.Tensor): void {
    if (x.dtype !== 'float32') throw this.error('a float32 input', `dtype ${x.dtype}`);
    const spec = this.inputSpec?.[0];
    if (spec?.ndim != null && x.rank !== spec.ndim) {
      throw this.error(`an input of rank ${spec.ndim} (the rank it was built for)`, `shape ${JSON.stringify(x.shape)}`);
    }
    const channels = this.movingMean.shape[0];
    if (x.shape[this.resolvedAxis] !== channels) {
      throw this.error(`${channels} features on axis ${this.resolvedAxis}`, `shape ${JSON.stringify(x.shape)}`);
    }
  }

  /** Masks cover every input axis but the feature axis, like Embedding's [batch, steps] mask. */
  private checkMask(mask: tf.Tensor, x: tf.Tensor): tf.Tensor {
    const expected = x.shape.filter((_, i) => i !== this.resolvedAxis);
    if (!tf.util.arraysEqual(mask.shape, expected)) {
      throw this.error(`a mask of shape ${JSON.stringify(expected)}`, `mask shape ${JSON.stringify(mask.shape)}`);
    }
    return mask;
  }

  private error(expected: string, received: string): Error {
    return new Error(`BatchNormalization layer '${this.name}': expected ${expected}, but received ${received}.`);
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
