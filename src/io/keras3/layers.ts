/**
 * One layer config, Keras 3 -> the Keras 2 shape tfjs-layers reads. Keras 3 wraps every
 * initializer, regularizer and constraint in `{module, class_name, config, registered_name}`,
 * writes dtypes as DTypePolicy objects, InputLayer's shape as `batch_shape`, LeakyReLU's slope as
 * `negative_slope`, adds `build_config` and new arguments, and names some activations (`silu`)
 * differently. Arguments TF.js cannot honour are refused by name rather than dropped.
 */
import { isObject, Json, KerasFormatError, show } from './json';

/**
 * Keras 3 activation names -> TF.js's. Those missing compute something TF.js has no function
 * for; Keras 3's `hard_sigmoid` is relu6(x + 3) / 6, not TF.js's (Keras 2's) clip(0.2x + 0.5).
 */
const ACTIVATIONS: Record<string, string> = {
  linear: 'linear', relu: 'relu', relu6: 'relu6', elu: 'elu', selu: 'selu', sigmoid: 'sigmoid', tanh: 'tanh',
  softplus: 'softplus', softsign: 'softsign', softmax: 'softmax', log_softmax: 'log_softmax', gelu: 'gelu',
  mish: 'mish', swish: 'swish', silu: 'swish',
};

/** Keras 3 initializer class names that TF.js spells differently. */
const INITIALIZER_NAMES: Record<string, string> = { LecunNormal: 'LeCunNormal', LecunUniform: 'LeCunUniform' };

/** Keras 3 dtype policies whose variables are float32 and whose math TF.js does in float32. */
const FLOAT_POLICIES = ['float32', 'mixed_float16', 'mixed_bfloat16'];
const TFJS_DTYPES = ['float32', 'int32', 'bool'];

/** Context for error messages. */
export interface Where {
  layer: string | null;
  className: string | null;
}

function fail(problem: string, where: Where): KerasFormatError {
  return new KerasFormatError(problem, where.layer, where.className);
}

/** A Keras 3 DTypePolicy (or plain dtype string) -> a TF.js dtype string. */
export function translateDtype(value: unknown, where: Where): unknown {
  let name = value;
  if (isObject(value)) {
    const config = value['config'];
    name = isObject(config) ? config['name'] : undefined;
    if (typeof name !== 'string') throw fail(`expected a dtype policy with a name, but found ${show(value)}.`, where);
  }
  if (typeof name !== 'string') return value;
  if (TFJS_DTYPES.includes(name)) return name;
  if (FLOAT_POLICIES.includes(name)) return 'float32';
  if (name === 'int64' || name === 'int16' || name === 'int8' || name === 'uint8') return 'int32';
  throw fail(`dtype policy '${name}' has no TF.js equivalent; expected float32, a mixed float policy ` +
    '(computed in float32 here), or an integer dtype.', where);
}

/** A Keras 3 activation (a name, or a serialized function) -> TF.js's name. */
export function translateActivation(value: unknown, where: Where): unknown {
  let name = value;
  if (isObject(value)) name = typeof value['config'] === 'string' ? value['config'] : value['class_name'];
  if (name == null) return value;
  if (typeof name === 'string' && ACTIVATIONS[name] != null) return ACTIVATIONS[name];
  throw fail(`activation ${show(name)} has no TF.js equivalent; expected one of ` +
    `${Object.keys(ACTIVATIONS).join(', ')}.`, where);
}

/** Keras 3 initializer names (strings) that TF.js spells differently, before its camelCasing. */
const INITIALIZER_STRINGS: Record<string, string> = { lecun_normal: 'le_cun_normal', lecun_uniform: 'le_cun_uniform' };

type Kind = 'initializer' | 'regularizer' | 'constraint';

/** Which kind of object a config key holds (`kernel_initializer` -> initializer), or null. */
function kindOf(key: string): Kind | null {
  const m = /_(initializer|regularizer|constraint)$/.exec(key);
  return m == null ? null : m[1] as Kind;
}

/**
 * A serialized Keras 3 initializer, regularizer or constraint (`{module, class_name, config,
 * registered_name}`, or without module as the converter's keras_keras route writes it) -> the
 * Keras 2 `{class_name, config}` TF.js reads.
 */
function translateObject(value: unknown, kind: Kind, where: Where): unknown {
  if (typeof value === 'string') return kind === 'initializer' ? INITIALIZER_STRINGS[value] ?? value : value;
  if (!isObject(value) || typeof value['class_name'] !== 'string') return value;
  let cls = value['class_name'];
  let config = value['config'];
  if (kind === 'initializer') cls = INITIALIZER_NAMES[cls] ?? cls;
  if (kind === 'regularizer' && isObject(config)) {
    // TF.js has only L1L2; Keras 3 writes L1 and L2 separately.
    const given: Json = config;
    if (cls === 'L1') config = { l1: given['l1'] ?? 0, l2: 0 };
    if (cls === 'L2') config = { l1: 0, l2: given['l2'] ?? 0 };
    if (cls === 'L1' || cls === 'L2') cls = 'L1L2';
    if (cls !== 'L1L2') throw fail(`regularizer ${cls} has no TF.js equivalent; expected L1, L2 or L1L2.`, where);
  }
  return { class_name: cls, config: translateValues(config, where) };
}

/** Keys whose value is a nested layer config (wrappers). */
const NESTED_LAYER_KEYS = ['layer', 'backward_layer'];

/**
 * Walks a config's values: dtype policies, serialized objects and activations become what TF.js
 * reads. Nested layer configs (Bidirectional, TimeDistributed) go through `nestedLayer`.
 */
function translateValues(value: unknown, where: Where, nestedLayer?: (entry: Json) => Json): unknown {
  if (Array.isArray(value)) return value.map((v) => translateValues(v, where, nestedLayer));
  if (!isObject(value)) return value;
  const out: Json = {};
  for (const [key, v] of Object.entries(value)) {
    const kind = kindOf(key);
    if (key === 'module' || key === 'registered_name' || key === 'shared_object_id') continue;
    if (kind != null) out[key] = translateObject(v, kind, where);
    else if (key === 'dtype') out[key] = translateDtype(v, where);
    else if (key === 'activation' || key === 'recurrent_activation') out[key] = translateActivation(v, where);
    else if (NESTED_LAYER_KEYS.includes(key) && isObject(v) && nestedLayer != null) out[key] = nestedLayer(v);
    else out[key] = translateValues(v, where, nestedLayer);
  }
  return out;
}

/**
 * Keras 3 saves a Bidirectional's forward layer (named `forward_<name>`) as `layer` and its
 * backward twin as `backward_layer`; TF.js builds the backward twin itself and names the two
 * `forward_` / `backward_` + the given layer's name, so the prefix goes and the twin is dropped.
 */
function bidirectional(config: Json, where: Where): void {
  const layer = config['layer'];
  const backward = config['backward_layer'];
  if (isObject(layer) && isObject(layer['config']) && typeof layer['config']['name'] === 'string') {
    layer['config']['name'] = layer['config']['name'].replace(/^forward_/, '');
  }
  if (backward == null) return;
  if (!isObject(backward) || !isObject(layer) || backward['class_name'] !== layer['class_name']) {
    throw fail(`its backward layer is a ${isObject(backward) ? String(backward['class_name']) : show(backward)} and its forward ` +
      `layer a ${isObject(layer) ? String(layer['class_name']) : show(layer)}; TF.js builds the backward layer as the forward ` +
      'layer\'s twin, so expected the same class.', where);
  }
  delete config['backward_layer'];
}

/** Keras 3 arguments that change nothing TF.js computes when unset, and refuse a model when set. */
const UNSET_ONLY: Record<string, (v: unknown) => boolean> = {
  quantization_config: (v) => v == null,
  lora_rank: (v) => v == null || v === 0,
  lora_alpha: () => true,
  output_padding: (v) => v == null,
  synchronized: () => true, // one device: SyncBatchNormalization computes what BatchNormalization does
  ragged: (v) => v !== true,
  optional: () => true, // the input is always given in TF.js
};

/**
 * Translates one layer's `config` (not the entry around it) for `className`. Nested layer
 * configs are handed to `nestedLayer`. Returns the class name TF.js should build (it differs for
 * LayerNormalization with rms_scaling, which only this package's layer implements).
 */
export function translateLayerConfig(className: string, config: Json, where: Where,
  nestedLayer: (entry: Json) => Json, customLayerNorm: string | null): { className: string; config: Json } {
  const out = translateValues(config, where, nestedLayer) as Json;
  for (const [key, ok] of Object.entries(UNSET_ONLY)) {
    if (!(key in out)) continue;
    if (!ok(out[key])) {
      throw fail(`argument ${key} = ${show(out[key])} is not supported in TF.js; expected it unset.`, where);
    }
    delete out[key];
  }
  // Grouped convolutions: TF.js's convolution layers have no `groups`.
  if (/Conv[123]D/.test(className) && 'groups' in out) {
    if (out['groups'] != null && out['groups'] !== 1) {
      throw fail(`argument groups = ${show(out['groups'])} is not supported in TF.js; expected 1.`, where);
    }
    delete out['groups'];
  }
  let cls = className;
  if (className === 'InputLayer' && 'batch_shape' in out) {
    out['batch_input_shape'] = out['batch_shape'];
    delete out['batch_shape'];
  }
  if (className === 'LeakyReLU' && 'negative_slope' in out) {
    out['alpha'] = out['negative_slope'];
    delete out['negative_slope'];
  }
  if (className === 'LayerNormalization' && out['rms_scaling'] === true) {
    // TF.js's built-in has no rms_scaling; this package's layer computes it as Keras 3 does.
    if (customLayerNorm == null) {
      throw fail('rms_scaling needs this package\'s LayerNormalization; import \'tfjs-batchnorm\' to register it.', where);
    }
    cls = customLayerNorm;
  } else if (className === 'LayerNormalization') {
    delete out['rms_scaling'];
  }
  if (className === 'Bidirectional') bidirectional(out, where);
  if (/^Global(Average|Max)Pooling[123]D$/.test(className) && out['keepdims'] === true) {
    throw fail('keepdims = true is not supported by TF.js\'s global pooling layers; expected false.', where);
  }
  if (/^Global(Average|Max)Pooling[123]D$/.test(className)) delete out['keepdims'];
  return { className: cls, config: out };
}
