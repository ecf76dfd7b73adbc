/**
 * A tfjs layers model as Keras 3 saves it: config.json in Keras 3's format (the inverse of the
 * translation that reads it) and the variables laid out as in model.weights.h5. Keras finds a
 * layer's variables by a path built from class names, not layer names (`layers/dense_1/vars/0`
 * is the second Dense of its model), numbered trainable-first in creation order; this module
 * builds the same paths from the same config Keras will read.
 */
import * as tf from '@tensorflow/tfjs';
import { Json, toSnakeCase } from './json';
import { CUSTOM_BN, CUSTOM_LN, GROUP_NORM, INSTANCE_NORM, MODEL_CLASSES, STOCK_BN, STOCK_LN } from '../../core/class_names';

/** The Keras release whose archive layout and config format are written. */
export const KERAS_VERSION = '3.15.1';


/** tfjs (and this package's) class names that Keras 3 spells differently. */
const KERAS_CLASS: Record<string, string> = {
  [CUSTOM_BN]: STOCK_BN, [CUSTOM_LN]: STOCK_LN, Model: 'Functional', [INSTANCE_NORM]: GROUP_NORM,
};

/**
 * Layer classes whose variables Keras 3 keeps elsewhere than `vars` (recurrent cells, wrappers), or
 * that Keras 3 does not have: writing them would give an archive Keras cannot load.
 */
const NOT_WRITABLE = new Set(['SimpleRNN', 'GRU', 'LSTM', 'ConvLSTM2D', 'RNN', 'StackedRNNCells', 'Bidirectional',
  'TimeDistributed', 'SimpleRNNCell', 'GRUCell', 'LSTMCell', 'ConvLSTM2DCell']);

/** Keras 3's initializer arguments, by class (tfjs writes the VarianceScaling family with its base's). */
const INITIALIZER_ARGS: Record<string, string[]> = {
  GlorotUniform: ['seed'], GlorotNormal: ['seed'], HeUniform: ['seed'], HeNormal: ['seed'], LecunUniform: ['seed'],
  LecunNormal: ['seed'], Zeros: [], Ones: [], Constant: ['value'], RandomNormal: ['mean', 'stddev', 'seed'],
  RandomUniform: ['minval', 'maxval', 'seed'], TruncatedNormal: ['mean', 'stddev', 'seed'], Orthogonal: ['gain', 'seed'],
  Identity: ['gain'], VarianceScaling: ['scale', 'mode', 'distribution', 'seed'],
};

/** A Keras 3 serialized object: `{module, class_name, config, registered_name}`. */
function kerasObject(module: string, className: string, config: Json): Json {
  return { module, class_name: className, config, registered_name: null };
}

function initializer(value: Json): Json {
  const className = String(value.class_name);
  const config = { ...(value.config as Json ?? {}) };
  const allowed = INITIALIZER_ARGS[className];
  if (className === 'VarianceScaling' && config.distribution === 'normal') {
    // tfjs's 'normal' draws from a truncated normal, Keras 3's spelling of which is explicit.
    config.distribution = 'truncated_normal';
  }
  const kept = allowed == null ? config : Object.fromEntries(allowed.map((k) => [k, config[k] ?? null]));
  return kerasObject('keras.initializers', className, kept);
}

const OBJECT_MODULES: [RegExp, string][] = [
  [/_initializer$/, 'keras.initializers'], [/_regularizer$/, 'keras.regularizers'], [/_constraint$/, 'keras.constraints'],
];

function dtypePolicy(dtype: unknown): Json {
  return kerasObject('keras', 'DTypePolicy', { name: typeof dtype === 'string' ? dtype : 'float32' });
}

/** One layer's config, Keras 3 style (not InputLayer, not a model). */
function layerConfig(className: string, config: Json, layerName: string): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(config)) {
    // Keras 3 takes a model's input from its InputLayer; Embedding's input_length is gone from Keras 3.
    if (key === 'batch_input_shape' || key === 'input_shape' || key === 'input_length') continue;
    const module = OBJECT_MODULES.find(([re]) => re.test(key))?.[1];
    if (module != null && value != null && typeof value === 'object' && 'class_name' in (value as Json)) {
      const v = value as Json;
      out[key] = module === 'keras.initializers' ? initializer(v)
        : kerasObject(module, String(v.class_name), { ...(v.config as Json ?? {}) });
    } else {
      out[key] = value;
    }
  }
  out.name = layerName;
  out.dtype = dtypePolicy(config.dtype);
  if (className === INSTANCE_NORM) out.groups = -1;
  if (out.virtual_batch_size != null) {
    throw new Error(`layer '${layerName}': Keras 3's BatchNormalization has no virtual_batch_size (ghost batches); ` +
      'a .keras file cannot hold this layer.');
  }
  delete out.virtual_batch_size;
  return out;
}

function shapeOf(t: tf.SymbolicTensor): (number | null)[] {
  return [...t.shape];
}

function kerasTensor(t: tf.SymbolicTensor, history: unknown[]): Json {
  return { class_name: '__keras_tensor__', config: { shape: shapeOf(t), dtype: t.dtype, keras_history: history.slice(0, 3) } };
}

/** Input shapes of a layer's first call, as Keras's build_config holds them. */
function buildConfig(layer: tf.layers.Layer): Json {
  const node = (layer as unknown as { inboundNodes: { inputTensors: tf.SymbolicTensor[] }[] }).inboundNodes[0];
  if (node == null || node.inputTensors.length === 0) return { input_shape: null };
  const shapes = node.inputTensors.map(shapeOf);
  return { input_shape: shapes.length === 1 ? shapes[0] : shapes };
}

/** A Keras 3 InputLayer entry. */
function inputLayer(name: string, batchShape: unknown, dtype: unknown, sparse: unknown): Json {
  return {
    module: 'keras.layers', class_name: 'InputLayer', registered_name: null,
    config: { batch_shape: batchShape, dtype: dtype ?? 'float32', sparse: sparse ?? false, ragged: false, name, optional: false },
  };
}

/** A layer's variables in Keras's order, under its archive path. */
export interface KerasVariables {
  path: string;
  name: string;
  values: tf.LayerVariable[];
}

/** config.json's content and the variables to put in model.weights.h5. */
export interface Keras3Model {
  config: Json;
  variables: KerasVariables[];
}

function layerByName(model: tf.LayersModel, name: string): tf.layers.Layer {
  return model.getLayer(name);
}

/** Converts one model (the top one or a nested one), collecting its variables under `path`. */
function convertModel(model: tf.LayersModel, json: Json, path: string, variables: KerasVariables[]): Json {
  const className = String(json.class_name);
  const config = json.config as Json;
  const tfjsLayers = (config.layers as Json[]) ?? [];
  variables.push({ path: path === '' ? 'vars' : `${path}/vars`, name: model.name, values: [] });
  const used = new Map<string, number>();
  const prefix = path === '' ? '' : `${path}/`;
  const addVariables = (layerJson: Json, layer: tf.layers.Layer): Json | null => {
    const kerasClass = KERAS_CLASS[String(layerJson.class_name)] ?? String(layerJson.class_name);
    let name = toSnakeCase(kerasClass);
    const n = used.get(name);
    used.set(name, n == null ? 0 : n + 1);
    if (n != null) name = `${name}_${n + 1}`;
    const layerPath = `${prefix}layers/${name}`;
    if (MODEL_CLASSES.includes(String(layerJson.class_name))) {
      return convertModel(layer as tf.LayersModel, layerJson, layerPath, variables);
    }
    if (NOT_WRITABLE.has(kerasClass)) {
      throw new Error(`layer '${layer.name}' (${kerasClass}): writing this class to a .keras archive is not supported ` +
        '(Keras 3 keeps its variables in sub-objects this writer does not lay out).');
    }
    variables.push({ path: `${layerPath}/vars`, name: layer.name, values: [...layer.weights] as tf.LayerVariable[] });
    return null;
  };

  if (className === 'Sequential') {
    const layers: Json[] = [];
    const seq = model as tf.Sequential;
    // tfjs writes a Sequential's input either as an InputLayer entry or as the first layer's batch_input_shape.
    const explicit = tfjsLayers[0]?.class_name === 'InputLayer' ? tfjsLayers[0].config as Json : undefined;
    const rest = explicit != null ? tfjsLayers.slice(1) : tfjsLayers;
    const first = explicit ?? rest[0]?.config as Json | undefined;
    const batchShape = first?.batch_input_shape ?? (seq.inputs[0] != null ? shapeOf(seq.inputs[0]) : null);
    layers.push(inputLayer(String(explicit?.name ?? `${model.name}_input`), batchShape, first?.dtype, explicit?.sparse));
    for (const lj of rest) {
      const layer = seq.getLayer(String((lj.config as Json).name));
      const nested = addVariables(lj, layer);
      layers.push(nested ?? {
        module: 'keras.layers', class_name: KERAS_CLASS[String(lj.class_name)] ?? lj.class_name, registered_name: null,
        config: layerConfig(String(lj.class_name), lj.config as Json, layer.name), build_config: buildConfig(layer),
      });
    }
    return {
      module: 'keras', class_name: 'Sequential', registered_name: null,
      config: { name: model.name, trainable: model.trainable, dtype: dtypePolicy('float32'), layers, build_input_shape: batchShape },
      build_config: { input_shape: batchShape },
      ...(path === '' ? {} : { name: model.name }),
    };
  }

  const layers: Json[] = [];
  for (const lj of tfjsLayers) {
    const layerName = String(lj.name);
    const layer = layerByName(model, layerName);
    const lc = lj.config as Json;
    if (lj.class_name === 'InputLayer') {
      addVariables(lj, layer);
      layers.push({ ...inputLayer(layerName, lc.batch_input_shape, lc.dtype, lc.sparse), name: layerName, inbound_nodes: [] });
      continue;
    }
    const inbound = (lj.inbound_nodes as unknown[][][]) ?? [];
    const nodes = inbound.map((node) => {
      const tensors = node.map((ref) => {
        const [from, nodeIndex, tensorIndex] = ref as [string, number, number];
        const source = layerByName(model, from) as unknown as { inboundNodes: { outputTensors: tf.SymbolicTensor[] }[] };
        return kerasTensor(source.inboundNodes[nodeIndex].outputTensors[tensorIndex], ref);
      });
      const kwargs = { ...((node[0]?.[3] as Json | undefined) ?? {}) };
      return { args: tensors.length === 1 ? tensors : [tensors], kwargs };
    });
    const nested = addVariables(lj, layer);
    const entry: Json = nested ?? {
      module: 'keras.layers', class_name: KERAS_CLASS[String(lj.class_name)] ?? lj.class_name, registered_name: null,
      config: layerConfig(String(lj.class_name), lc, layerName), build_config: buildConfig(layer),
    };
    if (nested != null) entry.build_config = buildConfig(layer);
    entry.name = layerName;
    entry.inbound_nodes = nodes;
    layers.push(entry);
  }
  const refs = (list: unknown) => {
    const items = (list as unknown[][]).map((r) => r.slice(0, 3));
    return items.length === 1 ? items[0] : items;
  };
  return {
    module: 'keras.src.models.functional', class_name: 'Functional', registered_name: 'Functional',
    config: { name: model.name, trainable: model.trainable, layers, input_layers: refs(config.input_layers),
      output_layers: refs(config.output_layers) },
    build_config: { input_shape: null },
  };
}

/**
 * `model` as Keras 3 writes it: config.json's object and the variables of model.weights.h5, by
 * path. Throws, naming the layer, for what Keras 3 cannot load.
 *
 * Usage: `const { config, variables } = toKeras3(model);`
 */
export function toKeras3(model: tf.LayersModel): Keras3Model {
  const json = model.toJSON(null, false) as unknown as Json;
  const variables: KerasVariables[] = [];
  const config = convertModel(model, json, '', variables);
  return { config, variables };
}
