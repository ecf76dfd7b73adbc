/**
 * The shared part of every normalization layer of this package, in the spirit of PyTorch's
 * `_NormBase`: axis parsing and validation, `epsilon`, `center` / `scale` with the `gamma` /
 * `beta` weights (initializers, regularizers and constraints kept as one record each), the
 * shared part of `getConfig`, input and mask checks, and one error format:
 * `<Kind> layer '<name>': expected …, but received ….`
 *
 * A subclass says which axes it accepts, what shape gamma and beta take, which extra weights it
 * holds (e.g. BatchNormalization's moving statistics) and what `call` computes.
 */
import * as tf from '@tensorflow/tfjs';
import { normalizeAxis, parseAxisArg } from '../core/axis';
import { didYouMean } from '../core/suggest';
import { kerasMaskWeights } from './call_args';
import { finiteIn, KnownArguments, LAYER_ARGS, plainDtype, unknownArguments } from './keras_args';
import { Constraint, Initializer, Regularizer, resolveKerasObject, serializeKerasObject } from './keras_objects';
import { assertSingleTfjsOnce } from './single_tfjs';

/** The constructor arguments NormalizationBase itself reads. */
const SHARED_ARGUMENTS = ['axis', 'epsilon', 'center', 'scale', 'betaInitializer', 'gammaInitializer', 'betaRegularizer',
  'gammaRegularizer', 'betaConstraint', 'gammaConstraint'] as const;

type BuiltinBatchNormArgs = NonNullable<Parameters<typeof tf.layers.batchNormalization>[0]>;
type AffineArgKey = 'epsilon' | 'center' | 'scale' | 'betaInitializer' | 'gammaInitializer' | 'betaRegularizer' |
  'gammaRegularizer' | 'betaConstraint' | 'gammaConstraint';
/** The usual layer arguments (`name`, `trainable`, `inputShape`, `dtype`, `weights`, ...). */
export type LayerArgs = Omit<BuiltinBatchNormArgs, AffineArgKey | 'axis' | 'momentum' | 'movingMeanInitializer' |
  'movingVarianceInitializer'>;
export type LayerVariable = ReturnType<tf.layers.Layer['addWeight']>;
export type Kwargs = { [key: string]: unknown };

/** Constructor arguments every normalization layer takes, named and typed as the built-ins name them. */
export interface NormalizationBaseArgs extends LayerArgs, Pick<BuiltinBatchNormArgs, AffineArgKey> {
  /** The axis or axes the layer works along; what they mean is the subclass's to say. */
  axis?: number | number[];
}

/** How one affine weight (gamma or beta) is made and kept in bounds. */
export interface AffineWeightSpec {
  initializer: Initializer;
  regularizer: Regularizer | null;
  constraint: Constraint | null;
}

/** What a subclass accepts as `axis`. */
export interface AxisRule {
  /** The axes when the argument is absent, e.g. `[-1]`. */
  fallback: number[];
  /** Whether several axes are accepted (LayerNormalization) or exactly one (BatchNormalization). */
  list: boolean;
  /** The phrase errors use for a bad argument, e.g. `axis as an integer or a list of integers`. */
  expected: string;
}

/**
 * Base class of BatchNormalization, LayerNormalization, GroupNormalization,
 * InstanceNormalization, RMSNormalization and UnitNormalization. Not registered for
 * serialization itself.
 *
 * Usage: `class MyNorm extends NormalizationBase { ... }`
 */
/**
 * The name tfjs gives a layer of class `publicName` when none is given, e.g.
 * `batch_normalization_BatchNormalization3`: made by tfjs's own Layer constructor, so the number
 * comes from the counter tfjs's built-in layers of that class share.
 *
 * Usage: `defaultLayerName('BatchNormalization')`
 */
function defaultLayerName(publicName: string): string {
  class Named extends tf.layers.Layer {
    static className = publicName;
  }
  return new Named({}).name;
}

export abstract class NormalizationBase extends tf.layers.Layer {
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  /** `axis` as given (possibly negative), parsed into a list. */
  protected readonly axes: number[];
  /** gamma's and beta's initializer, regularizer and constraint. */
  protected readonly affine: Record<'gamma' | 'beta', AffineWeightSpec>;
  protected gamma: LayerVariable | null = null;
  protected beta: LayerVariable | null = null;
  /** The axes resolved against the input rank (non-negative, in the order given); set by build. */
  protected resolvedAxes: number[] = [];

  constructor(args: NormalizationBaseArgs, axisRule: AxisRule) {
    // Named by tfjs's rule after the public class name (BatchNormalization, not the registered
    // TfjsBatchNormalization), so defaults read as the built-in's do and never repeat one of them.
    const registered = (new.target as unknown as { className: string }).className;
    super({ ...args, name: args.name ?? defaultLayerName(registered.replace(/^Tfjs/, '')),
      dtype: plainDtype(args.dtype) as tf.DataType | undefined });
    assertSingleTfjsOnce();
    this.supportsMasking = true;
    this.checkArguments(args);
    this.axes = this.parseAxes(args.axis, axisRule);
    this.epsilon = this.parseNumber('epsilon', args.epsilon, this.defaultEpsilon(), 'a finite number >= 0', (v) => finiteIn(v, 0));
    this.center = args.center ?? true;
    this.scale = args.scale ?? true;
    const spec = (init: unknown, fallback: string, reg: unknown, constraint: unknown): AffineWeightSpec => ({
      initializer: this.resolveInitializer(init, fallback),
      regularizer: resolveKerasObject<Regularizer>(reg, 'regularizer'),
      constraint: resolveKerasObject<Constraint>(constraint, 'constraint'),
    });
    this.affine = {
      gamma: spec(args.gammaInitializer, 'ones', args.gammaRegularizer, args.gammaConstraint),
      beta: spec(args.betaInitializer, 'zeros', args.betaRegularizer, args.betaConstraint),
    };
  }

  /** The layer kind errors name, e.g. `BatchNormalization` (not the registered class name). */
  protected abstract kind(): string;

  /**
   * The constructor arguments of the subclass besides the shared ones. Any other argument is an
   * error naming it, as Keras raises for unknown arguments (a typo such as `momentm` is not
   * dropped silently); the check runs in the base constructor, so this must not read fields.
   */
  protected ownArguments(): KnownArguments {
    return { names: [] };
  }

  /**
   * The shared constructor arguments the layer takes (default: all of them). Keras's
   * RMSNormalization takes `axis` and `epsilon` only, UnitNormalization `axis` only. Called by the
   * base constructor, so it must not read fields.
   */
  protected sharedArguments(): readonly string[] {
    return SHARED_ARGUMENTS;
  }

  /** epsilon when the argument is absent (Keras's default for the layer). Must not read fields. */
  protected defaultEpsilon(): number {
    return 1e-3;
  }

  /** The shape of gamma and beta for an input of `shape` (axes already resolved). */
  protected abstract affineShape(shape: number[]): number[];

  /** Smallest input rank the layer accepts, and how errors describe it. */
  protected minRank(): { rank: number; expected: string } {
    return { rank: 2, expected: 'an input of rank >= 2 (batch and features)' };
  }

  /** Whether `axis` (resolved against `rank`) is one the layer may work along; the batch axis is not. */
  protected axisAllowed(axis: number, rank: number): boolean {
    return axis >= 1 && axis < rank;
  }

  /** How errors describe the allowed axes for `rank`. */
  protected allowedAxes(rank: number): string {
    return `axis in [1, ${rank - 1}] or [-${rank - 1}, -1] for rank ${rank}`;
  }

  /** Checks what the axes alone cannot (e.g. that groups divide the channels); throws this.error. */
  protected checkShape(_shape: number[]): void {
    // Nothing by default.
  }

  /**
   * The affine weights the layer holds, by the names they take (null: none). Default: `gamma`
   * with `scale`, `beta` with `center`; Keras's RMSNormalization holds its gamma as `scale`.
   */
  protected affineWeights(): Record<'gamma' | 'beta', string | null> {
    return { gamma: this.scale ? 'gamma' : null, beta: this.center ? 'beta' : null };
  }

  /** Adds the weights besides gamma and beta (after them, so weight order matches Keras). */
  protected buildState(_shape: number[]): void {
    // Nothing by default.
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const min = this.minRank();
    if (shape.length < min.rank) throw this.error(min.expected, `shape ${JSON.stringify(shape)}`);
    this.resolvedAxes = this.resolveAxes(shape.length);
    const axes: { [axis: number]: number } = {};
    for (const axis of this.resolvedAxes) {
      const size = shape[axis];
      if (size == null) throw this.error(`a defined size on feature axis ${axis}`, `shape ${JSON.stringify(shape)}`);
      axes[axis] = size;
    }
    this.inputSpec = [{ ndim: shape.length, axes }];
    this.checkShape(shape as number[]);
    const paramShape = this.affineShape(shape as number[]);
    const names = this.affineWeights();
    const add = (name: 'gamma' | 'beta', weightName: string) => {
      const { initializer, regularizer, constraint } = this.affine[name];
      return this.addWeight(weightName, paramShape, 'float32', initializer, regularizer ?? undefined, true,
        constraint ?? undefined);
    };
    // Same order and names as the built-ins, so getWeights()/setWeights() interoperate.
    if (names.gamma != null) this.gamma = add('gamma', names.gamma);
    if (names.beta != null) this.beta = add('beta', names.beta);
    this.buildState(shape as number[]);
    this.built = true;
  }

  /** The mask passes through unchanged: normalization does not mask anything new. */
  override computeMask(_inputs: tf.Tensor | tf.Tensor[], mask?: tf.Tensor | tf.Tensor[]): tf.Tensor | tf.Tensor[] {
    return mask as tf.Tensor;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return this.sharedConfig();
  }

  /**
   * The config keys every normalization layer shares, plus the base layer's, in the built-ins'
   * key order; a subclass's own keys go after `axis` and after the initializers, where the
   * built-ins put them.
   */
  protected sharedConfig(extra: { afterAxis?: object; afterInitializers?: object } = {}): tf.serialization.ConfigDict {
    return {
      axis: this.axisConfig(),
      ...extra.afterAxis,
      epsilon: this.epsilon,
      center: this.center,
      scale: this.scale,
      betaInitializer: serializeKerasObject(this.affine.beta.initializer),
      gammaInitializer: serializeKerasObject(this.affine.gamma.initializer),
      ...extra.afterInitializers,
      betaRegularizer: serializeKerasObject(this.affine.beta.regularizer),
      gammaRegularizer: serializeKerasObject(this.affine.gamma.regularizer),
      betaConstraint: serializeKerasObject(this.affine.beta.constraint),
      gammaConstraint: serializeKerasObject(this.affine.gamma.constraint),
      ...this.layerConfig(),
    } as tf.serialization.ConfigDict;
  }

  /** The base layer's config keys (`name`, `trainable`, `dtype`, ...), for a layer with a config of its own. */
  protected layerConfig(): tf.serialization.ConfigDict {
    return super.getConfig();
  }

  /** `axis` as getConfig writes it: a number for one axis, else the list. */
  protected axisConfig(): number | number[] {
    return this.axes.length === 1 ? this.axes[0] : [...this.axes];
  }

  /** An initializer from an identifier, `{className, config}` or instance; `fallback` when absent. */
  protected resolveInitializer(id: unknown, fallback: string): Initializer {
    return resolveKerasObject<Initializer>(id ?? fallback, 'initializer')!;
  }

  /** gamma and beta as tensors (null when the layer has none); call inside a tidy. */
  protected affineParams(): { gamma: tf.Tensor | null; beta: tf.Tensor | null } {
    return { gamma: this.gamma?.read() ?? null, beta: this.beta?.read() ?? null };
  }

  /**
   * Checks an input against the rank and sizes the layer was built for, and returns it as
   * float32: int32 and bool inputs are cast, as Keras does. Call inside a tidy.
   */
  protected checkInput(raw: tf.Tensor): tf.Tensor {
    if (!['float32', 'int32', 'bool'].includes(raw.dtype)) {
      throw this.error('a numeric input (float32, int32 or bool)', `dtype ${raw.dtype}`);
    }
    const x = raw.dtype === 'float32' ? raw : tf.cast(raw, 'float32');
    const spec = this.inputSpec?.[0];
    if (spec?.ndim != null && x.rank !== spec.ndim) {
      throw this.error(`an input of rank ${spec.ndim} (the rank it was built for)`, `shape ${JSON.stringify(x.shape)}`);
    }
    const axes = spec?.axes ?? {};
    // for...in rather than Object.entries: this runs on every call, and allocates nothing.
    for (const axis in axes) {
      const size = axes[axis];
      if (x.shape[Number(axis)] !== size) {
        throw this.error(`${size} features on axis ${axis}`, `shape ${JSON.stringify(x.shape)}`);
      }
    }
    return x;
  }

  /**
   * A mask as Keras lays it out (one dimension less than the input, as `Masking` and `Embedding`
   * produce; expanded on the last axis and broadcast over the input) as 0/1 float32 weights of
   * the input's shape; a mask that does not fit is an error naming both shapes. Call inside a tidy.
   */
  protected maskWeights(mask: tf.Tensor, x: tf.Tensor): tf.Tensor {
    const weights = kerasMaskWeights(mask, x.shape);
    if (typeof weights === 'string') throw this.error(weights, `mask shape ${JSON.stringify(mask.shape)}`);
    return weights;
  }

  /** A number argument: `fallback` when absent, else it must pass `valid` (null and NaN never do). */
  protected parseNumber(name: string, value: unknown, fallback: number, expected: string,
    valid: (v: unknown) => boolean): number {
    if (value === undefined) return fallback;
    if (!valid(value)) throw this.error(`${name} as ${expected}`, JSON.stringify(value) ?? String(value));
    return value as number;
  }

  /** The package's error format: what was expected and what was received, naming the layer. */
  protected error(expected: string, received: string): Error {
    return new Error(`${this.kind()} layer '${this.name}': expected ${expected}, but received ${received}.`);
  }

  private checkArguments(args: object): void {
    const own = this.ownArguments();
    const known = { names: [...this.sharedArguments(), ...own.names, ...LAYER_ARGS], nullOnly: own.nullOnly };
    const unknown = unknownArguments(args, known);
    if (unknown.length > 0) {
      const accepted = known.names.filter((k) => k !== 'customObjects').join(', ');
      const named = unknown.map((name) => `${name}${didYouMean(name, known.names)}`);
      throw this.error(`only the arguments ${accepted}`, `unknown argument(s) ${named.join(', ')}`);
    }
  }

  private parseAxes(axis: unknown, rule: AxisRule): number[] {
    const axes = parseAxisArg(axis, rule.fallback);
    if (axes == null || axes.length === 0 || (!rule.list && axes.length !== 1)) {
      throw this.error(rule.expected, JSON.stringify(axis));
    }
    return axes;
  }

  /** Resolves `axes` against `rank` once; each must be allowed and appear once. */
  private resolveAxes(rank: number): number[] {
    const resolved = this.axes.map((a) => normalizeAxis(a, rank));
    const ok = resolved.every((a, i) => a != null && this.axisAllowed(a, rank) && resolved.indexOf(a) === i);
    if (!ok) throw this.error(this.allowedAxes(rank), `axis ${JSON.stringify(this.axisConfig())}`);
    return resolved as number[];
  }
}
