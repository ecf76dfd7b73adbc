/**
 * Resolves and serializes initializers, regularizers and constraints the way tfjs-layers does
 * internally (its `getInitializer` / `serializeInitializer` are not part of the public API), so
 * this layer accepts exactly the identifiers the built-in accepts and writes the same JSON.
 */
import * as tf from '@tensorflow/tfjs';

type Initializer = ReturnType<typeof tf.initializers.zeros>;
type Regularizer = ReturnType<typeof tf.regularizers.l1l2>;
type Constraint = ReturnType<typeof tf.constraints.nonNeg>;
export type { Initializer, Regularizer, Constraint };

/** A serialized Keras object: `{className, config}`. */
export interface KerasObjectConfig {
  className: string;
  config: tf.serialization.ConfigDict;
}

// tfjs's camelCase string identifiers and the classes they name.
const IDENTIFIERS: Record<string, string> = {
  constant: 'Constant', glorotNormal: 'GlorotNormal', glorotUniform: 'GlorotUniform',
  heNormal: 'HeNormal', heUniform: 'HeUniform', identity: 'Identity',
  leCunNormal: 'LeCunNormal', leCunUniform: 'LeCunUniform', ones: 'Ones',
  orthogonal: 'Orthogonal', randomNormal: 'RandomNormal', randomUniform: 'RandomUniform',
  truncatedNormal: 'TruncatedNormal', varianceScaling: 'VarianceScaling', zeros: 'Zeros',
  l1l2: 'L1L2', maxNorm: 'MaxNorm', minMaxNorm: 'MinMaxNorm', nonNeg: 'NonNeg', unitNorm: 'UnitNorm',
};

function deserialize<T>(spec: KerasObjectConfig, what: string): T {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[spec.className];
  if (entry == null) {
    throw new Error(`Unknown ${what}: '${spec.className}'. Expected one of tfjs's registered classes, e.g. ` +
      `${Object.values(IDENTIFIERS).slice(0, 4).join(', ')}.`);
  }
  const [cls, fromConfig] = entry;
  return fromConfig(cls, spec.config ?? {}) as unknown as T;
}

/**
 * Turns an identifier (`'ones'`), a `{className, config}` object or an instance into an instance.
 *
 * Usage: `resolveKerasObject<Initializer>('zeros', 'initializer')`
 */
export function resolveKerasObject<T>(id: unknown, what: string): T | null {
  if (id == null) return null;
  if (typeof id === 'string') return deserialize<T>({ className: IDENTIFIERS[id] ?? id, config: {} }, what);
  if (id instanceof tf.serialization.Serializable) return id as unknown as T;
  if (typeof id === 'object' && typeof (id as KerasObjectConfig).className === 'string') {
    return deserialize<T>(id as KerasObjectConfig, what);
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
