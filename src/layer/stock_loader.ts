/**
 * Loads a stock `BatchNormalization` as this package's layer where tfjs's built-in would compute
 * something else than the Keras that wrote it, and leaves every other one to the built-in:
 * - batch renormalization (`renorm: true`) or ghost batches (`virtual_batch_size`): the built-in
 *   has neither, so it would drop the arguments and then fail on the extra weights
 *   (`moving_stddev`, `renorm_mean`, `renorm_stddev`) or on the ghost-batch weight shapes;
 * - a feature axis other than the last (channels-first): the built-in's inference is wrong there.
 *   The input's rank is only known once the model is built, so the model classes' loaders build
 *   it, and build it again with those layers as this package's when there are any.
 */
import * as tf from '@tensorflow/tfjs';
import { CUSTOM_BN, MODEL_CLASSES, STOCK_BN } from '../core/class_names';
import { BatchNormalization } from './batch_normalization';
import { trainingOnlyFeatures } from '../core/batch_norm_config';

type FromConfig = (cls: unknown, config: tf.serialization.ConfigDict, ...rest: unknown[]) => tf.serialization.Serializable;
type Entry = [tf.serialization.SerializableConstructor<tf.serialization.Serializable>, FromConfig];
type Config = Record<string, unknown>;

// Marks the wrapper, so registering twice (or from a second copy of the package) wraps once.
const WRAPPED = Symbol.for('tfjs-batchnorm.stockBatchNormLoader');

/** False while a model is built exactly as its config says (see asWritten). */
let routeAxes = true;

/**
 * Runs `build` (which must deserialize synchronously, as tf.models.modelFromJSON does before its
 * first await) with every BatchNormalization built as its config names it, the built-in on any
 * axis: conversion rebuilds models whose classes it has chosen itself.
 *
 * Usage: `const pending = asWritten(() => tf.models.modelFromJSON({ modelTopology }));`
 */
export function asWritten<T>(build: () => T): T {
  const before = routeAxes;
  routeAxes = false;
  try {
    return build();
  } finally {
    routeAxes = before;
  }
}

/**
 * tf.keras 2 stores a ghost-batch layer's axis after inserting the ghost axis: its build adds one
 * to every (non-negative) axis and get_config writes the result, e.g. `axis: [2]` for a rank-2
 * input. A stock BatchNormalization config with `virtual_batch_size` comes from tf.keras (TF.js's
 * built-in never writes one), so its axis is read back as the one the layer normalizes.
 */
function fromTfKeras(config: Config): Config {
  const vbs = config['virtualBatchSize'] ?? config['virtual_batch_size'];
  if (vbs == null) return config;
  const axis = config['axis'];
  const shift = (a: unknown) => (typeof a === 'number' && a > 0 ? a - 1 : a);
  return { ...config, axis: Array.isArray(axis) ? axis.map(shift) : shift(axis) };
}

function wrapBatchNorm(map: Record<string, Entry>): void {
  const entry = map[STOCK_BN];
  if (entry == null || (entry[1] as unknown as Record<symbol, boolean>)[WRAPPED]) return;
  const [builtin, builtinFromConfig] = entry;
  const fromConfig: FromConfig = (cls, config, ...rest) => trainingOnlyFeatures(config as Config).length > 0
    ? new BatchNormalization(fromTfKeras(config as Config) as ConstructorParameters<typeof BatchNormalization>[0])
    : builtinFromConfig(cls, config, ...rest);
  (fromConfig as unknown as Record<symbol, boolean>)[WRAPPED] = true;
  map[STOCK_BN] = [builtin, fromConfig];
}

/** Names of a built model's direct layers that are the built-in BatchNormalization on a non-last axis. */
function builtinOnOtherAxis(model: tf.LayersModel): Set<string> {
  const names = new Set<string>();
  for (const layer of model.layers) {
    if (layer.getClassName() !== STOCK_BN || layer instanceof BatchNormalization) continue;
    const input = layer.inboundNodes[0]?.inputTensors[0];
    if (input == null) continue; // not built: nothing to judge
    const rank = input.shape.length;
    const raw = (layer as unknown as { axis: number | number[] }).axis;
    const axis = Number(Array.isArray(raw) ? raw[0] : raw);
    if (axis !== -1 && axis !== rank - 1) names.add(layer.name);
  }
  return names;
}

/** `config` with the named BatchNormalization layers switched to this package's class. */
function switched(config: tf.serialization.ConfigDict, names: Set<string>): tf.serialization.ConfigDict {
  const layers = (Array.isArray(config) ? config : config['layers']) as Config[];
  const next = layers.map((l) => {
    const name = (l['name'] ?? (l['config'] as Config | undefined)?.['name']) as string;
    return l['className'] === STOCK_BN && names.has(name) ? { ...l, className: CUSTOM_BN } : l;
  });
  return (Array.isArray(config) ? next : { ...config, layers: next }) as unknown as tf.serialization.ConfigDict;
}

function wrapModel(map: Record<string, Entry>, className: string): void {
  const entry = map[className];
  if (entry == null || (entry[1] as unknown as Record<symbol, boolean>)[WRAPPED]) return;
  const [builtin, builtinFromConfig] = entry;
  const fromConfig: FromConfig = (cls, config, ...rest) => {
    // tfjs's loaders take the layer list out of the config they are given: keep the original.
    if (!routeAxes) return builtinFromConfig(cls, config, ...rest);
    const model = builtinFromConfig(cls, JSON.parse(JSON.stringify(config)), ...rest) as tf.LayersModel;
    const names = builtinOnOtherAxis(model);
    if (names.size === 0) return model;
    // Built with zeros or initializers, before any weight is loaded: nothing is lost.
    model.dispose();
    return builtinFromConfig(cls, switched(config, names), ...rest);
  };
  (fromConfig as unknown as Record<symbol, boolean>)[WRAPPED] = true;
  map[className] = [builtin, fromConfig];
}

/**
 * Wraps the registered `BatchNormalization` loader, and the model classes' loaders (for the
 * feature axis), idempotently.
 *
 * Usage: `registerStockBatchNormLoader();`
 */
export function registerStockBatchNormLoader(): void {
  const map = tf.serialization.SerializationMap.getMap().classNameMap as unknown as Record<string, Entry>;
  wrapBatchNorm(map);
  for (const className of MODEL_CLASSES) wrapModel(map, className);
}

registerStockBatchNormLoader();
