/**
 * Keras 3 weight names -> the names TF.js gives the same weights (`<layer>/<weight>`). Keras 3
 * writes two kinds:
 * - variable paths (the HDF5 route): `<model>/<layer>/<weight>`, with the model's name in front for
 *   layers built inside a Sequential, and an RNN cell's name between an RNN layer and its weight;
 * - archive paths (a `.keras` file, and the converter's `keras_keras` route):
 *   `layers/<folder>/vars/<i>`, where the folder is the snake_case class name made unique in the
 *   model's layer order (`dense`, `dense_1`, ...) and `i` counts the layer's variables, trainable ones
 *   first, in the order Keras creates them. Optimizer state (`optimizer/vars/<i>`) has no TF.js
 *   counterpart and is dropped.
 */
import { batchNormWeightNames } from '../../core/batch_norm_config';
import { isObject, Json, KerasFormatError, toSnakeCase } from './json';

/** A layer of the (translated) model, by name, with its Keras 3 class name and config. */
export interface LeafLayer {
  name: string;
  kerasClass: string;
  config: Json;
}

const RNN = ['SimpleRNN', 'LSTM', 'GRU', 'ConvLSTM1D', 'ConvLSTM2D', 'ConvLSTM3D'];
const DEPTHWISE = ['DepthwiseConv1D', 'DepthwiseConv2D'];

/**
 * The variables Keras 3 creates for a layer, in the order a `.keras` archive numbers them
 * (trainable first), or null for a class whose variables are not known here.
 */
function kerasVariables(cls: string, config: Json): string[] | null {
  const on = (key: string) => config[key] !== false;
  const bias = on('use_bias') ? ['bias'] : [];
  if (cls === 'Dense' || /^Conv[123]D(Transpose)?$/.test(cls) || DEPTHWISE.includes(cls)) return ['kernel', ...bias];
  if (/^SeparableConv[12]D$/.test(cls)) return ['depthwise_kernel', 'pointwise_kernel', ...bias];
  if (cls === 'BatchNormalization') {
    return batchNormWeightNames(config);
  }
  if (cls === 'LayerNormalization') {
    const rms = config['rms_scaling'] === true;
    return [...(on('scale') || rms ? ['gamma'] : []), ...(on('center') && !rms ? ['beta'] : [])];
  }
  if (cls === 'GroupNormalization') return [...(on('scale') ? ['gamma'] : []), ...(on('center') ? ['beta'] : [])];
  if (cls === 'RMSNormalization') return ['scale'];
  if (cls === 'Embedding') return ['embeddings'];
  if (cls === 'PReLU') return ['alpha'];
  if (RNN.includes(cls)) return ['kernel', 'recurrent_kernel', ...bias];
  return null;
}

/** A Keras 3 weight name -> TF.js's, for a weight of `layer` (the name's last part). */
function tfjsWeightName(layer: LeafLayer, weight: string): string {
  return DEPTHWISE.includes(layer.kerasClass) && weight === 'kernel' ? 'depthwise_kernel' : weight;
}

/** The folder (archive path) of every layer with weights, nested models included. */
export function archivePaths(model: Json, layersOf: (model: Json) => Json[] | null, prefix = 'layers',
  out = new Map<string, string>()): Map<string, string> {
  const used = new Map<string, number>();
  for (const entry of layersOf(model) ?? []) {
    const cls = entry['class_name'] as string;
    const base = toSnakeCase(cls);
    const n = used.get(base);
    used.set(base, n == null ? 0 : n + 1);
    const folder = `${prefix}/${n == null ? base : `${base}_${n + 1}`}`;
    const name = (entry['name'] ?? (isObject(entry['config']) ? entry['config']['name'] : undefined)) as string;
    if (layersOf(entry) != null) archivePaths(entry, layersOf, `${folder}/layers`, out);
    else out.set(folder, name);
  }
  return out;
}

/** Context the renaming needs: the model's layers by name, model names, archive folders. */
export interface NamingContext {
  leaves: Map<string, LeafLayer>;
  modelNames: Set<string>;
  folders: Map<string, string>;
}

/** The variable name at index `i` below `rest` (e.g. `/cell`, `/forward_layer/cell`) of `layer`. */
function archiveVariable(layer: LeafLayer, rest: string, i: number): string | null {
  const parts = rest.split('/').filter((p) => p !== '');
  let cls = layer.kerasClass;
  let config = layer.config;
  let prefix = '';
  if (cls === 'Bidirectional' && (parts[0] === 'forward_layer' || parts[0] === 'backward_layer')) {
    const inner = isObject(config['layer']) ? config['layer'] : {};
    const innerConfig = isObject(inner['config']) ? inner['config'] : {};
    // TF.js names the two directions after the layer, without Keras 3's forward_ prefix.
    prefix = `${parts[0] === 'forward_layer' ? 'forward' : 'backward'}_${String(innerConfig['name']).replace(/^forward_/, '')}/`;
    cls = inner['class_name'] as string;
    config = innerConfig;
    parts.shift();
  } else if (cls === 'TimeDistributed' && parts[0] === 'layer') {
    const inner = isObject(config['layer']) ? config['layer'] : {};
    cls = inner['class_name'] as string;
    config = isObject(inner['config']) ? inner['config'] : {};
    parts.shift();
  }
  if (RNN.includes(cls) && parts[0] === 'cell') parts.shift();
  if (parts.length > 0) return null;
  const names = kerasVariables(cls, config);
  if (names == null || i >= names.length) return null;
  return prefix + tfjsWeightName({ ...layer, kerasClass: cls }, names[i]);
}

/**
 * TF.js's name for the weight Keras 3 saved as `name`, or null for optimizer state. Throws
 * KerasFormatError when the name matches no layer of the model.
 *
 * Usage: `const tfjsName = renameWeight('cnn/batch_normalization/gamma', context);`
 */
export function renameWeight(name: string, context: NamingContext): string | null {
  if (name.startsWith('optimizer/')) return null;
  const archive = /^(layers\/.+)\/vars\/(\d+)$/.exec(name);
  if (archive != null) {
    const path = archive[1];
    for (const [folder, layerName] of context.folders) {
      if (path !== folder && !path.startsWith(`${folder}/`)) continue;
      const layer = context.leaves.get(layerName);
      const variable = layer == null ? null : archiveVariable(layer, path.slice(folder.length), Number(archive[2]));
      if (layer == null || variable == null) {
        throw new KerasFormatError(`the archive's weight '${name}' is not one this layer has in Keras 3.15 ` +
          '(expected the variables Keras creates for its class and config).', layerName, layer?.kerasClass ?? null);
      }
      return `${layer.name}/${variable}`;
    }
    throw new KerasFormatError(`the archive's weight '${name}' belongs to no layer of the model (expected ` +
      `layers/<folder>/vars/<i> with a folder among ${[...context.folders.keys()].slice(0, 6).join(', ')}).`);
  }
  const tokens = name.split('/');
  while (tokens.length > 2 && context.modelNames.has(tokens[0]) && !context.leaves.has(tokens[0])) tokens.shift();
  const layer = context.leaves.get(tokens[0]);
  if (layer == null || tokens.length < 2) {
    if (tokens.length < 2 || context.modelNames.has(tokens[0])) return name;
    throw new KerasFormatError(`weight '${name}' names no layer of the model (expected <layer>/<weight>, where ` +
      'the layer is one of the model\'s).');
  }
  const weight = tfjsWeightName(layer, tokens[tokens.length - 1]);
  // A Bidirectional's weights keep the direction's name: bidirectional/forward_lstm/<weight>.
  const direction = layer.kerasClass === 'Bidirectional' && tokens.length > 2 ? `${tokens[1]}/` : '';
  return `${layer.name}/${direction}${weight}`;
}
