/**
 * Resolves and serializes initializers, regularizers and constraints the way tfjs-layers does
 * internally (its `getInitializer` / `serializeInitializer` are not part of the public API), so
 * this layer accepts exactly the identifiers the built-in accepts and writes the same JSON.
 *
 * It also reads them as Keras 2 and Keras 3 write them: class names such as `L2`, `LecunNormal`
 * or `OrthogonalInitializer`, and string identifiers in camelCase, snake_case or Keras's legacy
 * spellings (`'l1_l2'`, `'max_norm'`, `'nonneg'`, `'uniform'`). Names are matched ignoring case
 * and underscores, within the kind asked for: a regularizer slot never resolves an initializer.
 */
import * as tf from '@tensorflow/tfjs';

type Initializer = ReturnType<typeof tf.initializers.zeros>;
type Regularizer = ReturnType<typeof tf.regularizers.l1l2>;
type Constraint = ReturnType<typeof tf.constraints.nonNeg>;
export type { Initializer, Regularizer, Constraint };

export type KerasObjectKind = 'initializer' | 'regularizer' | 'constraint';

/** A serialized Keras object: `{className, config}`. */
export interface KerasObjectConfig {
  className: string;
  config: tf.serialization.ConfigDict;
}

type Config = tf.serialization.ConfigDict;

/** How a name read from JSON or code becomes a tfjs class and its config. */
interface Entry {
  className: string;
  /** Turns the Keras config into the tfjs class's config (identity when absent). */
  config?: (c: Config) => Config;
}

const same = (className: string): Entry => ({ className });

// Keras's L1 and L2 are tfjs's L1L2 with the other coefficient zero; their defaults are Keras's.
const num = (v: unknown, fallback: number) => (typeof v === 'number' ? v : fallback);
const REGULARIZERS: Record<string, Entry> = {
  l1: { className: 'L1L2', config: (c) => ({ l1: num(c['l1'], 0.01), l2: 0 }) },
  l2: { className: 'L1L2', config: (c) => ({ l1: 0, l2: num(c['l2'], 0.01) }) },
  l1l2: same('L1L2'),
};

const CONSTRAINTS: Record<string, Entry> = {
  maxnorm: same('MaxNorm'), minmaxnorm: same('MinMaxNorm'), nonneg: same('NonNeg'), unitnorm: same('UnitNorm'),
};

const INITIALIZERS: Record<string, Entry> = {
  zeros: same('Zeros'), zero: same('Zeros'), ones: same('Ones'), one: same('Ones'), constant: same('Constant'),
  randomnormal: same('RandomNormal'), normal: same('RandomNormal'),
  randomuniform: same('RandomUniform'), uniform: same('RandomUniform'),
  truncatednormal: same('TruncatedNormal'), variancescaling: same('VarianceScaling'),
  glorotnormal: same('GlorotNormal'), glorotuniform: same('GlorotUniform'),
  henormal: same('HeNormal'), heuniform: same('HeUniform'),
  lecunnormal: same('LeCunNormal'), lecununiform: same('LeCunUniform'),
  identity: same('Identity'), identityinitializer: same('Identity'),
  orthogonal: same('Orthogonal'), orthogonalinitializer: same('Orthogonal'),
};

const TABLES: Record<KerasObjectKind, Record<string, Entry>> = {
  initializer: INITIALIZERS, regularizer: REGULARIZERS, constraint: CONSTRAINTS,
};

/** What an error lists as accepted names for each kind. */
const EXPECTED: Record<KerasObjectKind, string> = {
  initializer: 'Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling, ' +
    'GlorotNormal, GlorotUniform, HeNormal, HeUniform, LecunNormal, LecunUniform, Identity, Orthogonal',
  regularizer: 'L1, L2, L1L2',
  constraint: 'MaxNorm, MinMaxNorm, NonNeg, UnitNorm',
};

/** `'l1_l2'`, `'l1L2'` and `'L1L2'` all become `'l1l2'`. */
const key = (name: string) => name.replace(/_/g, '').toLowerCase();

function deserialize<T>(className: string, config: Config, what: KerasObjectKind): T {
  const entry = TABLES[what][key(className)];
  const registered = entry == null ? undefined : tf.serialization.SerializationMap.getMap().classNameMap[entry.className];
  if (entry == null || registered == null) {
    throw new Error(`Unknown ${what}: '${className}'. Expected one of ${EXPECTED[what]} ` +
      '(as class names or in camelCase / snake_case).');
  }
  const [cls, fromConfig] = registered;
  return fromConfig(cls, entry.config?.(config) ?? config) as unknown as T;
}

/**
 * Turns an identifier (`'ones'`, `'l2'`), a `{className, config}` object (tfjs or Keras names)
 * or an instance into an instance of the given kind.
 *
 * Usage: `resolveKerasObject<Regularizer>({ className: 'L2', config: { l2: 0.01 } }, 'regularizer')`
 */
export function resolveKerasObject<T>(id: unknown, what: KerasObjectKind): T | null {
  if (id == null) return null;
  if (typeof id === 'string') return deserialize<T>(id, {}, what);
  if (id instanceof tf.serialization.Serializable) return id as unknown as T;
  if (typeof id === 'object' && typeof (id as KerasObjectConfig).className === 'string') {
    const spec = id as KerasObjectConfig;
    return deserialize<T>(spec.className, spec.config ?? {}, what);
  }
  throw new Error(`Invalid ${what}: expected a string identifier, a {className, config} object or an instance, ` +
    `but received ${JSON.stringify(id)}.`);
}

/**
 * The `{className, config}` form tfjs writes into model.json, or null.
 *
 * Usage: `serializeKerasObject(tf.initializers.ones()) // {className: 'Ones', config: {}}`
 */
export function serializeKerasObject(obj: tf.serialization.Serializable | null): KerasObjectConfig | null {
  return obj == null ? null : { className: obj.getClassName(), config: obj.getConfig() };
}
