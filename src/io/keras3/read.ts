/**
 * Keras's own files, read without Python: the `.keras` archive (Keras 3's `model.save`) and the
 * legacy `.h5` file (`model.save('model.h5')`, Keras 2 or 3). Each becomes the
 * `tf.io.ModelArtifacts` the TF.js converter (tensorflowjs 4.22) writes for that file, so both go
 * through the same Keras 3 translation and checks as a converted model.json:
 *  - `.keras` like `--input_format keras_keras --output_format tfjs_layers_model`: config.json
 *    without its `module`, `registered_name` and `date_saved` keys, and every dataset of
 *    model.weights.h5 named by its path in the file (`layers/dense/vars/0`);
 *  - `.h5` like `--input_format keras`: the file's `model_config`, `training_config`,
 *    `keras_version` and `backend`, and the weights each layer group's `weight_names` lists.
 * Only the archive entries named above are read, and nothing is ever extracted to disk.
 */
import * as tf from '@tensorflow/tfjs';
import { unzipSync, UnzipFileInfo } from 'fflate';
import { ModelFileError } from '../errors';
import { checkJsonDepth } from '../json_depth';
import { fromKeras3File } from './index';
import { isObject } from './json';
import {
  child, Hdf5File, Hdf5Group, isGroup, isHdf5, keys, openHdf5, readDataset, ReadWeight, stringListAttribute, attribute,
  MAX_HDF5_DEPTH,
} from './hdf5_read';

/** Default limit on a `.keras` or `.h5` file, and on what its archive entries expand to. */
export const DEFAULT_MAX_KERAS_FILE_BYTES = 2 * 1024 * 1024 * 1024;
/** Default limit on config.json (or an `.h5` file's model_config), as for model.json. */
export const DEFAULT_MAX_CONFIG_BYTES = 64 * 1024 * 1024;
/**
 * Largest ratio of an archive entry's expanded to stored size. Keras stores its entries
 * uncompressed; JSON deflates about 10:1; a zip bomb deflates about 1000:1.
 */
export const MAX_ZIP_EXPANSION = 100;
/** Entries at most this big are read whatever their ratio (their memory is bounded anyway). */
const SMALL_ENTRY_BYTES = 1024 * 1024;

export const CONFIG_JSON = 'config.json';
export const METADATA_JSON = 'metadata.json';
export const WEIGHTS_H5 = 'model.weights.h5';

export interface KerasReadOptions {
  /** Largest `.keras`/`.h5` file, and largest total its read entries may expand to, in bytes (default 2 GiB). */
  maxFileBytes?: number;
  /** Largest config.json or model_config, in bytes (default 64 MiB, as for model.json). */
  maxModelJsonBytes?: number;
}

const ZIP_SIGNATURE = [0x50, 0x4b, 0x03, 0x04];

/** What the bytes are: a `.keras` archive (zip), an HDF5 file, or neither. */
export function kerasFileKind(bytes: Uint8Array): 'keras' | 'h5' | null {
  if (bytes.length >= 4 && ZIP_SIGNATURE.every((b, i) => bytes[i] === b)) return 'keras';
  return isHdf5(bytes) ? 'h5' : null;
}

/** The TF.js converter renames these classes that some TensorFlow releases wrote. */
const CLASS_NAME_MAP: Record<string, string> = { BatchNormalizationV1: 'BatchNormalization', UnifiedGRU: 'GRU', UnifiedLSTM: 'LSTM' };

/** A copy of `value` without the keys in `drop` (at any depth) and with the converter's class renames. */
function asConverterWrites(value: unknown, drop: Set<string>): unknown {
  if (Array.isArray(value)) return value.map((v) => asConverterWrites(v, drop));
  if (value == null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (drop.has(k)) continue;
    out[k] = k === 'class_name' && typeof v === 'string' && v in CLASS_NAME_MAP ? CLASS_NAME_MAP[v] : asConverterWrites(v, drop);
  }
  return out;
}

function parseJson(bytes: Uint8Array, shown: string, maxBytes: number, expected: string): unknown {
  if (bytes.length > maxBytes) {
    throw new ModelFileError(shown, `is ${bytes.length} bytes, more than the limit of ${maxBytes} bytes for ${expected} ` +
      '(raise it with the maxModelJsonBytes option, or --max-model-json-mb on the command line).');
  }
  checkJsonDepth(bytes, shown);
  try {
    return JSON.parse(new TextDecoder('utf-8').decode(bytes));
  } catch (e) {
    throw new ModelFileError(shown, `is not valid JSON (${(e as Error).message}); expected ${expected}.`);
  }
}

/** Packs read weights the way a model.json's single shard holds them. */
function toArtifacts(file: string, topology: Record<string, unknown>, weights: ReadWeight[],
  trainingConfig: unknown): tf.io.ModelArtifacts {
  const total = weights.reduce((sum, w) => sum + w.data.byteLength, 0);
  const data = new Uint8Array(total);
  let offset = 0;
  for (const w of weights) {
    data.set(new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength), offset);
    offset += w.data.byteLength;
  }
  const specs: tf.io.WeightsManifestEntry[] = weights.map((w) => ({ name: w.name, shape: w.shape, dtype: w.dtype }));
  const version = typeof topology.keras_version === 'string' ? topology.keras_version : null;
  const json: tf.io.ModelJSON = {
    modelTopology: topology as tf.io.ModelJSON['modelTopology'],
    format: 'layers-model',
    generatedBy: version != null ? `keras v${version}` : undefined,
    convertedBy: `tfjs-batchnorm (read from ${file.split(/[/\\]/).pop()})`,
    weightsManifest: [{ paths: [], weights: specs }],
  };
  if (trainingConfig != null) json.trainingConfig = trainingConfig as tf.io.TrainingConfig;
  return tf.io.getModelArtifactsForJSONSync(json, specs, data.buffer);
}

/** An archive entry name that could point outside a folder it were extracted to. */
function escapes(name: string): boolean {
  return name.startsWith('/') || name.includes('\\') || /^[a-zA-Z]:/.test(name) || name.split('/').includes('..') ||
    name.includes('\0');
}

/**
 * Reads a `.keras` archive's bytes into the artifacts the TF.js converter writes from it.
 *
 * Usage: `const artifacts = readKerasArchive(bytes, 'model.keras');`
 */
export function readKerasArchive(bytes: Uint8Array, file: string, options: KerasReadOptions = {}): tf.io.ModelArtifacts {
  const maxFile = options.maxFileBytes ?? DEFAULT_MAX_KERAS_FILE_BYTES;
  const wanted = new Set([CONFIG_JSON, METADATA_JSON, WEIGHTS_H5]);
  const seen: string[] = [];
  let declared = 0;
  const check = (entry: UnzipFileInfo): boolean => {
    if (escapes(entry.name)) {
      throw new ModelFileError(file, `holds an entry named ${JSON.stringify(entry.name)}, which points outside the ` +
        'archive; expected a Keras archive (config.json, metadata.json, model.weights.h5). Nothing was read.');
    }
    seen.push(entry.name);
    if (!wanted.has(entry.name)) return false;
    if (entry.compression !== 0 && entry.compression !== 8) {
      throw new ModelFileError(`${file}: ${entry.name}`, `uses zip compression method ${entry.compression}; ` +
        'expected stored (0) or deflate (8), as Keras writes.');
    }
    declared += entry.originalSize;
    if (declared > maxFile) {
      throw new ModelFileError(`${file}: ${entry.name}`, `expands to ${entry.originalSize} bytes, more than the limit of ` +
        `${maxFile} bytes (raise it with the maxFileBytes option); nothing was extracted.`);
    }
    if (entry.originalSize > SMALL_ENTRY_BYTES && entry.originalSize > MAX_ZIP_EXPANSION * entry.size) {
      throw new ModelFileError(`${file}: ${entry.name}`, `declares ${entry.originalSize} bytes stored in ${entry.size} ` +
        `(more than ${MAX_ZIP_EXPANSION} times; a decompression bomb); nothing was extracted.`);
    }
    return true;
  };
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes, { filter: check });
  } catch (e) {
    if (e instanceof ModelFileError) throw e;
    throw new ModelFileError(file, `is not a readable zip archive (${(e as Error).message}); expected a Keras 3 .keras file.`);
  }
  for (const name of [CONFIG_JSON, WEIGHTS_H5]) {
    if (entries[name] == null) {
      const sharded = seen.some((n) => n.endsWith('.weights.json')) ? ' (sharded weights are not supported)' : '';
      const npz = seen.includes('model.weights.npz') ? ' (weights saved as .npz are not supported; save with the default .h5)' : '';
      throw new ModelFileError(file, `lacks ${name}${sharded}${npz}; expected a Keras 3 archive with config.json, ` +
        `metadata.json and model.weights.h5, found ${JSON.stringify(seen.slice(0, 10))}.`);
    }
  }
  // An entry that declared fewer bytes than it inflates to is cut at the declared size: the
  // parsers below then report it as damaged.
  const config = parseJson(entries[CONFIG_JSON], `${file}: ${CONFIG_JSON}`, options.maxModelJsonBytes ?? DEFAULT_MAX_CONFIG_BYTES,
    'a Keras model config');
  if (!isObject(config) || typeof config.class_name !== 'string') {
    throw new ModelFileError(`${file}: ${CONFIG_JSON}`, 'is not a Keras model config (expected an object with class_name).');
  }
  const metadata = entries[METADATA_JSON] == null ? {}
    : parseJson(entries[METADATA_JSON], `${file}: ${METADATA_JSON}`, SMALL_ENTRY_BYTES, 'Keras archive metadata');
  const kerasVersion = isObject(metadata) && typeof metadata.keras_version === 'string' ? metadata.keras_version : undefined;
  const h5 = openHdf5(entries[WEIGHTS_H5], `${file}: ${WEIGHTS_H5}`, maxFile);
  const weights: ReadWeight[] = [];
  walkVariables(h5, h5.root, '', 0, weights);
  const topology: Record<string, unknown> = {
    keras_version: kerasVersion,
    model_config: asConverterWrites(config, new Set(['module', 'registered_name', 'date_saved'])),
  };
  return toArtifacts(file, topology, weights, null);
}

/** Collects every dataset of model.weights.h5 in name order, named by its path (as the converter does). */
function walkVariables(h5: Hdf5File, group: Hdf5Group, prefix: string, depth: number, out: ReadWeight[]): void {
  if (depth > MAX_HDF5_DEPTH) {
    throw new ModelFileError(h5.shown, `nests groups more than ${MAX_HDF5_DEPTH} levels deep (at '${prefix}').`);
  }
  const names = keys(h5, group).sort();
  const nodes = names.map((n) => [n, child(h5, group, n)] as const);
  for (const [name, node] of nodes) {
    if (node != null && !isGroup(node)) out.push(readDataset(h5, node, prefix + name));
  }
  for (const [name, node] of nodes) {
    if (isGroup(node)) walkVariables(h5, node, `${prefix}${name}/`, depth + 1, out);
  }
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/**
 * Reads a legacy Keras `.h5` model file's bytes into the artifacts the TF.js converter writes from it.
 *
 * Usage: `const artifacts = readKerasH5(bytes, 'model.h5');`
 */
export function readKerasH5(bytes: Uint8Array, file: string, options: KerasReadOptions = {}): tf.io.ModelArtifacts {
  const h5 = openHdf5(bytes, file, options.maxFileBytes ?? DEFAULT_MAX_KERAS_FILE_BYTES);
  const maxJson = options.maxModelJsonBytes ?? DEFAULT_MAX_CONFIG_BYTES;
  if (attribute(h5, h5.root, 'layer_names') !== undefined) {
    throw new ModelFileError(file, 'holds weights only (written by save_weights); expected a whole model written by ' +
      "model.save('model.h5').");
  }
  const jsonAttribute = (name: string): unknown => {
    const value = attribute(h5, h5.root, name);
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw new ModelFileError(file, `attribute '${name}' is not a JSON string.`);
    return parseJson(new TextEncoder().encode(value), `${file}: ${name}`, maxJson, 'a Keras model config');
  };
  const modelConfig = jsonAttribute('model_config');
  if (!isObject(modelConfig) || typeof modelConfig.class_name !== 'string') {
    throw new ModelFileError(file, 'has no model_config attribute holding a Keras model config; expected a model ' +
      "written by model.save('model.h5').");
  }
  const trainingConfig = jsonAttribute('training_config');
  const topology: Record<string, unknown> = {
    keras_version: text(attribute(h5, h5.root, 'keras_version')),
    backend: text(attribute(h5, h5.root, 'backend')),
    model_config: asConverterWrites(modelConfig, new Set()),
  };
  if (trainingConfig !== undefined) topology.training_config = trainingConfig;
  const modelWeights = child(h5, h5.root, 'model_weights');
  if (!isGroup(modelWeights)) throw new ModelFileError(file, "has no 'model_weights' group; expected a Keras model file.");
  const weights: ReadWeight[] = [];
  for (const layer of keys(h5, modelWeights).sort()) {
    const group = child(h5, modelWeights, layer);
    if (isGroup(group)) layerWeights(h5, group, `model_weights/${layer}`, 0, weights);
  }
  return toArtifacts(file, topology, weights, null);
}

/** The weights a layer group's `weight_names` lists, or those of its subgroups when it has none. */
function layerWeights(h5: Hdf5File, group: Hdf5Group, path: string, depth: number, out: ReadWeight[]): void {
  if (depth > MAX_HDF5_DEPTH) throw new ModelFileError(h5.shown, `nests groups more than ${MAX_HDF5_DEPTH} levels deep (at '${path}').`);
  const names = stringListAttribute(h5, group, 'weight_names');
  if (names == null) {
    for (const name of keys(h5, group).sort()) {
      const sub = child(h5, group, name);
      if (isGroup(sub)) layerWeights(h5, sub, `${path}/${name}`, depth + 1, out);
    }
    return;
  }
  for (const name of names) {
    let node: Hdf5Group | ReturnType<typeof child> = group;
    for (const part of name.split('/')) node = isGroup(node) ? child(h5, node, part) : null;
    if (node == null || isGroup(node)) {
      throw new ModelFileError(h5.shown, `'${path}' lists weight '${name}' in weight_names, but has no such dataset.`);
    }
    out.push(readDataset(h5, node, name.endsWith(':0') ? name.slice(0, -2) : name));
  }
}

/**
 * The artifacts of a `.keras` archive or `.h5` file, told apart by their first bytes, as the TF.js
 * converter writes them (see kerasArtifacts for them translated into what tfjs-layers reads).
 *
 * Usage: `const artifacts = readKerasFile(new Uint8Array(await file.arrayBuffer()), file.name);`
 */
export function readKerasFile(bytes: Uint8Array, file: string, options: KerasReadOptions = {}): tf.io.ModelArtifacts {
  const max = options.maxFileBytes ?? DEFAULT_MAX_KERAS_FILE_BYTES;
  if (bytes.length > max) {
    throw new ModelFileError(file, `is ${bytes.length} bytes, more than the limit of ${max} bytes (raise it with the ` +
      'maxFileBytes option).');
  }
  const kind = kerasFileKind(bytes);
  if (kind === 'keras') return readKerasArchive(bytes, file, options);
  if (kind === 'h5') return readKerasH5(bytes, file, options);
  throw new ModelFileError(file, `is neither a Keras 3 archive (a zip file) nor an HDF5 file (it starts with bytes ` +
    `${JSON.stringify([...bytes.subarray(0, 4)])}); expected a file written by Keras's model.save.`);
}

/**
 * A `.keras` archive's or `.h5` file's artifacts, translated into what tfjs-layers reads (see fromKeras3).
 *
 * Usage: `const model = await tf.loadLayersModel(tf.io.fromMemory(kerasArtifacts(bytes, 'm.keras')));`
 */
export function kerasArtifacts(bytes: Uint8Array, file: string, options: KerasReadOptions = {}): tf.io.ModelArtifacts {
  return fromKeras3File(readKerasFile(bytes, file, options), file);
}
