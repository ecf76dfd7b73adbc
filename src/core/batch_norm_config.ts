/**
 * What a saved BatchNormalization config means, in one place for the layer (loading) and the
 * conversion (stock <-> custom, folding): which `training` values Keras treats as true, the
 * order of the layer's weights, the config keys of batch renormalization and ghost batches,
 * and so whether tfjs's built-in can stand in for the layer. Configs come in two spellings:
 * model.json's snake_case and tfjs's camelCase once loaded; both are read.
 */

/**
 * Python's truthiness for a `training` value saved with a call (Keras writes `true` or `1`).
 *
 * Usage: `if (isTruthyTraining(kwargs['training'])) { ... }`
 */
export function isTruthyTraining(value: unknown): boolean {
  return value === true || (typeof value === 'number' && value !== 0);
}

/** The arguments batch renormalization and ghost batches add, snake_case (model.json) to camelCase (tfjs). */
export const TRAINING_ONLY_KEYS: Readonly<Record<string, string>> = {
  renorm: 'renorm',
  renorm_clipping: 'renormClipping',
  renorm_momentum: 'renormMomentum',
  virtual_batch_size: 'virtualBatchSize',
};

/** The weights batch renormalization adds after the four of the built-in, in Keras's order. */
export const RENORM_WEIGHTS: readonly string[] = ['moving_stddev', 'renorm_mean', 'renorm_stddev'];

type Config = Record<string, unknown>;

/** A config value under its snake_case or camelCase key. */
function read(config: Config, snake: string): unknown {
  return config[snake] ?? config[TRAINING_ONLY_KEYS[snake] ?? snake];
}

/**
 * The layer's weights in the order `getWeights()` returns them and model.json stores them:
 * gamma (with `scale`), beta (with `center`), the moving mean and variance, then the renorm
 * weights (with `renorm`).
 *
 * Usage: `batchNormWeightNames({ scale: false }) // ['beta', 'moving_mean', 'moving_variance']`
 */
export function batchNormWeightNames(config: Config): string[] {
  return [
    ...(config['scale'] !== false ? ['gamma'] : []),
    ...(config['center'] !== false ? ['beta'] : []),
    'moving_mean', 'moving_variance',
    ...(config['renorm'] === true ? RENORM_WEIGHTS : []),
  ];
}

/**
 * The training-only features a config turns on that tfjs's built-in lacks, by name ('batch
 * renormalization', 'ghost batches (virtual_batch_size)'); empty when the built-in computes the
 * same layer.
 *
 * Usage: `const features = trainingOnlyFeatures(bn.config);`
 */
export function trainingOnlyFeatures(config: Config): string[] {
  return [
    ...(config['renorm'] === true ? ['batch renormalization'] : []),
    ...(read(config, 'virtual_batch_size') != null ? ['ghost batches (virtual_batch_size)'] : []),
  ];
}

/**
 * Whether a config holds any of the training-only keys, even switched off (`renorm: false` with
 * its clipping): the built-in has no such arguments, so its form of the layer drops them.
 *
 * Usage: `if (hasTrainingOnlyKeys(bn.config)) removeTrainingOnlyKeys(bn.config);`
 */
export function hasTrainingOnlyKeys(config: Config): boolean {
  return Object.entries(TRAINING_ONLY_KEYS).some(([snake, camel]) => snake in config || camel in config);
}

/**
 * Deletes the training-only keys (both spellings) from `config`, in place.
 *
 * Usage: `removeTrainingOnlyKeys(bn.config);`
 */
export function removeTrainingOnlyKeys(config: Config): void {
  for (const [snake, camel] of Object.entries(TRAINING_ONLY_KEYS)) {
    delete config[snake];
    delete config[camel];
  }
}
