/**
 * Checks a parsed model.json and its weights manifest before any weight is read, so a bad
 * file fails with a message about the file rather than deep inside tfjs.
 */
import * as tf from '@tensorflow/tfjs';
import { MODEL_CLASSES } from '../core/class_names';
import { ModelFileError } from './errors';

type ManifestEntry = tf.io.WeightsManifestEntry;
type ManifestGroup = tf.io.WeightsManifestConfig[number];

const BYTES_PER_VALUE: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value != null && !Array.isArray(value);
}

/** The model config inside a topology; the Python converter wraps it in `model_config`. */
export function modelConfigOf(topology: Record<string, unknown>): Record<string, unknown> {
  return isObject(topology['model_config']) ? topology['model_config'] : topology;
}

/**
 * Validates that `json` is a tfjs layers model (tfjs or Keras-converter flavour) and returns it
 * typed. Throws ModelFileError naming `file` otherwise.
 *
 * Usage: `const modelJson = checkModelJson(JSON.parse(text), 'out/model.json');`
 */
export function checkModelJson(json: unknown, file: string): tf.io.ModelJSON {
  const expected = 'expected a TensorFlow.js layers model (model.json with "modelTopology" and "weightsManifest")';
  if (!isObject(json)) throw new ModelFileError(file, `${expected}, but the JSON is ${describe(json)}.`);
  const topology = json['modelTopology'];
  if (json['format'] === 'graph-model' || (isObject(topology) && Array.isArray(topology['node']))) {
    throw new ModelFileError(file, `${expected}, but this is a graph model (load it with tf.loadGraphModel).`);
  }
  if (!isObject(topology)) throw new ModelFileError(file, `${expected}, but "modelTopology" is ${describe(topology)}.`);
  const config = modelConfigOf(topology);
  const className = config['class_name'] ?? config['className'];
  if (typeof className !== 'string' || !MODEL_CLASSES.includes(className) || !isObject(config['config'])) {
    throw new ModelFileError(file, `${expected}, but the topology's class_name is ${JSON.stringify(className)} ` +
      `(expected one of ${MODEL_CLASSES.join(', ')} with a "config" object).`);
  }
  if (!Array.isArray(json['weightsManifest'])) {
    throw new ModelFileError(file, `${expected}, but "weightsManifest" is ${describe(json['weightsManifest'])}.`);
  }
  json['weightsManifest'].forEach((group, i) => checkGroup(group, i, file));
  // A shard listed twice would be read twice, its bytes standing in for other weights.
  const shards = new Map<string, string>();
  (json['weightsManifest'] as ManifestGroup[]).forEach((group, i) => group.paths.forEach((p, j) => {
    const key = p.split('/').filter((part) => part !== '' && part !== '.').join('/');
    const where = `weightsManifest[${i}].paths[${j}]`;
    const first = shards.get(key);
    if (first != null) {
      throw new ModelFileError(file, `${where} lists the shard ${JSON.stringify(p)} again (as ${first} does); expected ` +
        'each shard listed once.');
    }
    shards.set(key, where);
  }));
  const names = new Set<string>();
  for (const entry of (json['weightsManifest'] as ManifestGroup[]).flatMap((g) => g.weights)) {
    if (names.has(entry.name)) throw new ModelFileError(file, `weight "${entry.name}" appears twice in the manifest.`);
    names.add(entry.name);
  }
  return json as unknown as tf.io.ModelJSON;
}

function checkGroup(group: unknown, index: number, file: string): void {
  const where = `weightsManifest[${index}]`;
  if (!isObject(group) || !Array.isArray(group['paths']) || !Array.isArray(group['weights'])) {
    throw new ModelFileError(file, `${where} must be {"paths": [...], "weights": [...]}, but is ${describe(group)}.`);
  }
  for (const p of group['paths']) {
    if (typeof p !== 'string' || p === '' || p.includes('://') || p.startsWith('/') || p.includes('\\')) {
      throw new ModelFileError(file, `${where}.paths has ${JSON.stringify(p)}; expected a file name relative ` +
        'to model.json.');
    }
  }
  group['weights'].forEach((entry, j) => checkEntry(entry, `${where}.weights[${j}]`, file));
}

function checkEntry(entry: unknown, where: string, file: string): void {
  const fail = (problem: string) => new ModelFileError(file, `${where}: ${problem}`);
  if (!isObject(entry) || typeof entry['name'] !== 'string') throw fail(`expected {"name", "shape", "dtype"}, ` +
    `but found ${describe(entry)}.`);
  const name = entry['name'];
  const shape = entry['shape'];
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw fail(`weight "${name}" has shape ${JSON.stringify(shape)}; expected a list of non-negative integers.`);
  }
  const dtype = entry['dtype'];
  if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool') {
    throw fail(`weight "${name}" has dtype ${JSON.stringify(dtype)}; expected float32, int32 or bool.`);
  }
  const q = entry['quantization'];
  if (q == null) return;
  if (!isObject(q) || !['uint8', 'uint16', 'float16'].includes(q['dtype'] as string)) {
    throw fail(`weight "${name}" has quantization ${JSON.stringify(q)}; expected dtype uint8, uint16 or float16.`);
  }
  if (q['dtype'] !== 'float16' && (!Number.isFinite(q['min']) || !Number.isFinite(q['scale']))) {
    throw fail(`weight "${name}" is quantized to ${q['dtype']} but lacks finite numeric "min" and "scale".`);
  }
}

/**
 * Bytes a manifest entry occupies in its shard (quantized entries take their stored size).
 *
 * Usage: `entryBytes({ name: 'k', shape: [3, 3], dtype: 'float32' }) // 36`
 */
export function entryBytes(entry: ManifestEntry): number {
  const stored = entry.quantization?.dtype ?? entry.dtype;
  return entry.shape.reduce((a, b) => a * b, 1) * BYTES_PER_VALUE[stored];
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return `an object with keys ${JSON.stringify(Object.keys(value).slice(0, 6))}`;
  return `${typeof value} ${JSON.stringify(value).slice(0, 40)}`;
}
