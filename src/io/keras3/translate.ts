/**
 * The one translation of Keras 3's model format into the Keras 2 shape tfjs-layers reads. Every
 * way a Keras 3 model comes in goes through `fromKeras3`: the converter's model.json (both its
 * HDF5 and its `keras_keras` route), the `.keras` and `.h5` readers, the file:// router, loadModel
 * and `tf.loadLayersModel` on a URL. It is a pure function on the artifacts' JSON and weight
 * specs (no Node built-ins), so it runs in browsers as well.
 */
import * as tf from '@tensorflow/tfjs';
import { isTruthyTraining } from '../../core/batch_norm_config';
import { CUSTOM_BN, CUSTOM_LN, MODEL_CLASSES, STOCK_BN } from '../../core/class_names';
import { entryBytes } from '../model_json';
import { isObject, Json, KerasFormatError, show } from './json';
import { translateLayerConfig, Where } from './layers';
import { translateNode } from './nodes';
import { archivePaths, LeafLayer, NamingContext, renameWeight } from './weights';

export { KerasFormatError } from './json';

function classMap(): Record<string, [unknown, unknown]> {
  return tf.serialization.SerializationMap.getMap().classNameMap as unknown as Record<string, [unknown, unknown]>;
}

function isRegisteredLayer(cls: string): boolean {
  const entry = classMap()[cls];
  const ctor = entry?.[0] as { prototype?: unknown } | undefined;
  return ctor?.prototype instanceof tf.layers.Layer;
}

function modelConfigOf(topology: Json): Json {
  return isObject(topology['model_config']) ? topology['model_config'] : topology;
}

function layersOf(entry: Json): Json[] | null {
  const config = entry['config'];
  if (!MODEL_CLASSES.includes(entry['class_name'] as string) || !isObject(config) || !Array.isArray(config['layers'])) return null;
  return config['layers'] as Json[];
}

function nameOf(entry: Json): string | null {
  const name = entry['name'] ?? (isObject(entry['config']) ? entry['config']['name'] : undefined);
  return typeof name === 'string' ? name : null;
}

const KERAS3_MARKERS = /"(__keras_tensor__|DTypePolicy|batch_shape|registered_name)"/;

/**
 * True when `artifacts` hold a Keras 3 model (its `keras_version` is 3.x, or its topology uses
 * Keras 3's format), which tfjs-layers cannot read without `fromKeras3`.
 *
 * Usage: `if (isKeras3(artifacts)) artifacts = fromKeras3(artifacts);`
 */
export function isKeras3(artifacts: tf.io.ModelArtifacts): boolean {
  const topology = artifacts.modelTopology;
  if (!isObject(topology) || artifacts.format === 'graph-model') return false;
  const version = topology['keras_version'];
  if (typeof version === 'string' && /^3\./.test(version)) return true;
  const config = modelConfigOf(topology);
  if (!MODEL_CLASSES.includes(config['class_name'] as string)) return false;
  return KERAS3_MARKERS.test(JSON.stringify(config));
}

/** A Functional config's input_layers / output_layers as TF.js's list of [layer, node, tensor]. */
function refList(value: unknown): unknown[] {
  if (Array.isArray(value) && value.length === 3 && typeof value[0] === 'string') return [value];
  if (isObject(value)) return Object.keys(value).sort().flatMap((k) => refList(value[k]));
  if (Array.isArray(value)) return value.flatMap(refList);
  throw new KerasFormatError(`expected input_layers / output_layers made of [layer, node, tensor], but found ${show(value)}.`);
}

/** The rank of a layer's first input, from the shape Keras 3 saves with each inbound tensor. */
function inputRank(entry: Json): number | null {
  const nodes = entry['inbound_nodes'];
  const node = Array.isArray(nodes) ? nodes[0] : null;
  const first = isObject(node) && Array.isArray(node['args']) ? node['args'][0] : null;
  const shape = isObject(first) && isObject(first['config']) ? first['config']['shape'] : null;
  return Array.isArray(shape) ? shape.length : null;
}

class Translator {
  /** Every non-model layer, by name, with its Keras 3 class and (untranslated) config. */
  readonly leaves = new Map<string, LeafLayer>();
  readonly modelNames = new Set<string>();
  /** The input rank of each layer whose Keras 3 inbound node gives its input's shape. */
  readonly ranks = new Map<string, number>();
  private readonly customLayerNorm = isRegisteredLayer(CUSTOM_LN) ? CUSTOM_LN : null;

  model(entry: Json, where: Where): Json {
    const config = entry['config'] as Json;
    const name = nameOf(entry) ?? '(unnamed)';
    this.modelNames.add(name);
    const layers = config['layers'] as Json[];
    const names = new Set(layers.map((l) => (isObject(l) ? nameOf(l) : null)).filter((n): n is string => n != null));
    const out: Json = { name: config['name'] ?? name, layers: layers.map((l, i) => this.layer(l, name, i, names)) };
    if ('trainable' in config) out['trainable'] = config['trainable'];
    for (const key of ['input_layers', 'output_layers']) if (key in config) out[key] = refList(config[key]);
    const result: Json = { class_name: entry['class_name'], config: out };
    if ('name' in entry) result['name'] = entry['name'];
    if ('inbound_nodes' in entry) result['inbound_nodes'] = this.nodes(entry, where, new Set());
    void where;
    return result;
  }

  private nodes(entry: Json, where: Where, names: Set<string>): unknown[] {
    const nodes = entry['inbound_nodes'];
    if (!Array.isArray(nodes)) throw new KerasFormatError('expected "inbound_nodes" to be a list.', where.layer, where.className);
    return nodes.map((n) => translateNode(n, where, names));
  }

  private layer(entry: unknown, modelName: string, index: number, names: Set<string>): Json {
    if (!isObject(entry) || typeof entry['class_name'] !== 'string' || !isObject(entry['config'])) {
      throw new KerasFormatError(`model '${modelName}': layers[${index}] must be {"class_name", "config"}, but is ${show(entry)}.`);
    }
    const cls = entry['class_name'];
    const name = nameOf(entry) ?? `layers[${index}]`;
    const where: Where = { layer: name, className: cls };
    if (layersOf(entry) != null) {
      const model = this.model(entry, where);
      if ('inbound_nodes' in entry) model['inbound_nodes'] = this.nodes(entry, where, names);
      return model;
    }
    this.leaves.set(name, { name, kerasClass: cls, config: entry['config'] });
    const rank = inputRank(entry);
    if (rank != null) this.ranks.set(name, rank);
    const result = this.leaf(entry, where);
    if ('name' in entry) result['name'] = entry['name'];
    if ('inbound_nodes' in entry) result['inbound_nodes'] = this.nodes(entry, where, names);
    return result;
  }

  /** A non-model layer entry (also a wrapper's nested layer) -> {class_name, config}. */
  private leaf(entry: Json, where: Where): Json {
    const cls = entry['class_name'] as string;
    const registered = entry['registered_name'];
    // A custom class registers in TF.js under its class name or under Keras's package>name.
    const known = isRegisteredLayer(cls) ? cls
      : typeof registered === 'string' && isRegisteredLayer(registered) ? registered : null;
    if (known == null) {
      throw new KerasFormatError(`class '${cls}' is not a layer TF.js or tfjs-batchnorm has (see docs/keras3.md for the ` +
        'layers that load; a custom layer must be registered with tf.serialization.registerClass first).',
      where.layer, cls);
    }
    const nested = (inner: Json) => this.leaf(inner, { layer: `${where.layer}/${nameOf(inner) ?? 'layer'}`, className: inner['class_name'] as string });
    const { className, config } = translateLayerConfig(known, entry['config'] as Json, where, nested, this.customLayerNorm);
    return { class_name: className, config };
  }
}

/** The `training` a layer's saved calls agree on (Keras 2 node form), or null. */
function savedTraining(entry: Json): unknown {
  const values = (entry['inbound_nodes'] as unknown[] | undefined ?? []).map((node) =>
    (Array.isArray(node) && Array.isArray(node[0]) && isObject(node[0][3]) ? node[0][3]['training'] : undefined));
  if (values.length === 0 || values.some((v) => v == null)) return null;
  return values.every((v) => v === values[0]) ? values[0] : null;
}


/**
 * Where TF.js's built-in BatchNormalization computes something else than Keras 3, the layer
 * becomes this package's (which computes what Keras does), and stays the built-in elsewhere:
 * - a `training` saved with a call: Keras honours it, predict included, and a nested model
 *   called with one passes it on to its layers' calls that have none of their own; the built-in
 *   ignores saved call arguments (and TF.js's nested models pass none on, so the inherited
 *   value is written into the inner calls);
 * - `trainable: false` on the layer or on a model around it: Keras then runs it in inference
 *   mode, in `fit` too; the built-in keeps normalizing with the batch and updating its statistics;
 * - a feature axis other than the last: the built-in's inference is wrong there.
 */
function applyKerasSemantics(model: Json, inherited: unknown, frozen: boolean, ranks: Map<string, number>): void {
  for (const entry of (model['config'] as Json)['layers'] as Json[]) {
    const nodes = entry['inbound_nodes'];
    if (inherited != null && Array.isArray(nodes)) {
      entry['inbound_nodes'] = nodes.map((node) => (Array.isArray(node) ? node.map((ref) => {
        if (!Array.isArray(ref) || (isObject(ref[3]) && ref[3]['training'] != null)) return ref;
        return [ref[0], ref[1], ref[2], { ...(isObject(ref[3]) ? ref[3] : {}), training: inherited }];
      }) : node));
    }
    const training = savedTraining(entry);
    const config = entry['config'] as Json;
    const isFrozen = frozen || config['trainable'] === false;
    if (layersOf(entry) != null) {
      applyKerasSemantics(entry, training, isFrozen, ranks);
    } else if (entry['class_name'] === STOCK_BN && isRegisteredLayer(CUSTOM_BN)) {
      const name = nameOf(entry) ?? '';
      if (isTruthyTraining(training) || isFrozen || !onLastAxis(config['axis'], ranks.get(name))) {
        entry['class_name'] = CUSTOM_BN;
        // A model frozen around the layer freezes the layer, as in Keras.
        if (isFrozen) config['trainable'] = false;
      }
    }
  }
}

/** Whether a BatchNormalization axis (int or one-element list) is the last of `rank` (unknown rank: assumed so). */
function onLastAxis(axis: unknown, rank: number | undefined): boolean {
  const value = Array.isArray(axis) && axis.length === 1 ? axis[0] : axis;
  if (rank == null || typeof value !== 'number') return true;
  return value === -1 || value === rank - 1;
}

function translateWeights(artifacts: tf.io.ModelArtifacts, context: NamingContext): Pick<tf.io.ModelArtifacts, 'weightSpecs' | 'weightData'> {
  const specs = artifacts.weightSpecs;
  if (specs == null) return { weightSpecs: specs, weightData: artifacts.weightData };
  const kept: tf.io.WeightsManifestEntry[] = [];
  const pieces: Array<[number, number]> = [];
  const seen = new Map<string, string>();
  let offset = 0;
  let dropped = false;
  for (const spec of specs) {
    const bytes = entryBytes(spec);
    const name = spec.group === 'optimizer' ? null : renameWeight(spec.name, context);
    if (name == null) {
      dropped = true;
    } else {
      const before = seen.get(name);
      if (before != null) {
        throw new KerasFormatError(`weights '${before}' and '${spec.name}' both become TF.js's '${name}'; expected one ` +
          'weight per layer variable.');
      }
      seen.set(name, spec.name);
      kept.push({ ...spec, name });
      pieces.push([offset, offset + bytes]);
    }
    offset += bytes;
  }
  if (!dropped || artifacts.weightData == null) return { weightSpecs: kept, weightData: artifacts.weightData };
  const all = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData));
  if (all.byteLength < offset) {
    throw new KerasFormatError(`the weight specs describe ${offset} bytes, but the weight data has ${all.byteLength}.`);
  }
  const out = new Uint8Array(pieces.reduce((sum, [a, b]) => sum + b - a, 0));
  let at = 0;
  for (const [a, b] of pieces) {
    out.set(all.subarray(a, b), at);
    at += b - a;
  }
  return { weightSpecs: kept, weightData: out.buffer };
}

/**
 * Translates a Keras 3 model (as the converter's model.json, or the `.keras` / `.h5` readers,
 * give it) into artifacts tfjs-layers loads: Keras 2 layer configs, inbound nodes and class
 * names, TF.js weight names, and no optimizer state. Artifacts that are not Keras 3 are returned
 * as they are (the same object), so every loader may call it. The input is not changed.
 * Throws KerasFormatError naming the layer for what TF.js cannot express (an unknown class, an
 * activation or argument it lacks).
 *
 * Usage: `const model = await tf.loadLayersModel(tf.io.fromMemory(fromKeras3(artifacts)));`
 */
export function fromKeras3(artifacts: tf.io.ModelArtifacts): tf.io.ModelArtifacts {
  if (!isKeras3(artifacts)) return artifacts;
  const topology = artifacts.modelTopology as Json;
  const config = modelConfigOf(topology);
  if (layersOf(config) == null) {
    throw new KerasFormatError(`expected the model to be ${MODEL_CLASSES.join(', ')} with a "layers" list, but its ` +
      `class is ${show(config['class_name'])}.`);
  }
  const translator = new Translator();
  const model = translator.model(config, { layer: null, className: null });
  applyKerasSemantics(model, null, false, translator.ranks);
  const context: NamingContext = {
    leaves: translator.leaves,
    modelNames: translator.modelNames,
    folders: archivePaths(config, layersOf),
  };
  // Keras 3's training_config names Keras 3 optimizers and losses; TF.js ignores a topology's
  // training_config anyway, so it goes. keras_version goes too: the result is no longer Keras 3's
  // format, and translating it again must change nothing.
  const { training_config: _config, keras_version: _version, ...rest } = topology;
  void _config;
  void _version;
  const translatedTopology = isObject(topology['model_config']) ? { ...rest, model_config: model } : model;
  return { ...artifacts, modelTopology: translatedTopology, ...translateWeights(artifacts, context) };
}
