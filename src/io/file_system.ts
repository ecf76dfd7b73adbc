/**
 * A `tf.io.IOHandler` for the local file system that needs no tfjs-node. It reads and writes the
 * standard layers-model format (model.json + weight shards), the format tfjs-node, the browser
 * and the official converter use.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { MODEL_JSON, saveInPlace, WriteFile } from './save_in_place';
import { ModelFileError } from './errors';
import { buildChecked, LoadChecks } from './build';
import { checkModelJson, entryBytes } from './model_json';
import { DEFAULT_MAX_MODEL_JSON_BYTES, readModelJsonText, readShards, ShardNotFoundError } from './safe_read';
import { fromKeras3File } from './keras3';

export { MODEL_JSON };
export const WEIGHTS_BIN = 'weights.bin';

export interface FileSystemOptions extends LoadChecks {
  /** Replaces the function that writes (and fsyncs) each file of a save; for fault injection. */
  writeFile?: WriteFile;
  /** Largest model.json read, in bytes (default DEFAULT_MAX_MODEL_JSON_BYTES, 64 MiB). */
  maxModelJsonBytes?: number;
  /** How long a save waits for another save into the same folder, in ms (default 60000). */
  lockTimeoutMs?: number;
}

/** `file://a/b` -> `a/b`; a plain path is returned unchanged. */
export function stripFileScheme(url: string): string {
  return url.startsWith('file://') ? url.slice('file://'.length) : url;
}

/**
 * A directory (or a path ending in .json) -> the model.json to load.
 *
 * Usage: `await resolveModelJson('models/net') // 'models/net/model.json'`
 */
export async function resolveModelJson(p: string): Promise<string> {
  if (p.endsWith('.json')) return p;
  try {
    if ((await fs.promises.stat(p)).isDirectory()) return path.join(p, MODEL_JSON);
  } catch {
    // Fall through: the missing file is reported by the reader with its name.
  }
  return p;
}

/**
 * Reads model.json and every weight shard it lists, checking that the shards hold exactly the
 * bytes the manifest describes, that they lie inside model.json's folder and are regular files.
 * A Keras 3 model comes back translated into what tfjs-layers reads (see fromKeras3).
 * If a shard is missing and model.json has changed since it was read (a save replaced the model
 * meanwhile), it reads the new model.json, up to READ_ATTEMPTS times in all. Reads only; never writes.
 *
 * Usage: `const artifacts = await readModelArtifacts('models/net/model.json');`
 */
export async function readModelArtifacts(modelPath: string, options: FileSystemOptions = {}): Promise<tf.io.ModelArtifacts> {
  const file = await resolveModelJson(modelPath);
  const maxBytes = options.maxModelJsonBytes ?? DEFAULT_MAX_MODEL_JSON_BYTES;
  let text = await readModelJsonText(file, maxBytes);
  for (let attempt = 1; ; attempt++) {
    try {
      return await readArtifactsFrom(file, text);
    } catch (e) {
      // A save into the folder replaced model.json and removed the shards this one lists: the new
      // model.json lists shards that exist. Anything else, or a model.json that did not change, fails.
      if (!(e instanceof ShardNotFoundError) || attempt >= READ_ATTEMPTS) throw e;
      const again = await readModelJsonText(file, maxBytes);
      if (again === text) throw e;
      text = again;
    }
  }
}

/** Reads of a model whose shards a concurrent save removed, before giving up. */
const READ_ATTEMPTS = 3;

async function readArtifactsFrom(file: string, text: string): Promise<tf.io.ModelArtifacts> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ModelFileError(file, `is not valid JSON (${(e as Error).message}); expected a TensorFlow.js layers model.json.`);
  }
  const modelJson = checkModelJson(parsed, file);
  const dir = path.dirname(file);
  const groups = modelJson.weightsManifest;
  const data = await readShards(file,
    groups.map((g) => g.paths.map((p) => ({ relative: p, shown: path.join(dir, p) }))),
    groups.map((g) => g.weights.reduce((sum, entry) => sum + entryBytes(entry), 0)),
    groups.map((g) => g.weights.length));
  // A Keras 3 model (the converter copies its format unchanged) becomes what tfjs-layers reads.
  return fromKeras3File(tf.io.getModelArtifactsForJSONSync(modelJson, groups.flatMap((g) => g.weights), data), file);
}

/**
 * Reads a model's artifacts and checks them against its topology (see buildChecked), so that
 * tfjs, which builds the model again from them, neither hangs nor leaks on a bad file.
 */
async function readCheckedArtifacts(modelPath: string, options: FileSystemOptions): Promise<tf.io.ModelArtifacts> {
  const file = await resolveModelJson(modelPath);
  const artifacts = await readModelArtifacts(file, options);
  const model = await buildChecked(artifacts, file, options);
  model.dispose();
  return artifacts;
}

/** The model.json tfjs-node writes: topology, one weights.bin, and the optional metadata. */
function modelJsonFor(artifacts: tf.io.ModelArtifacts, shard: string): tf.io.ModelJSON {
  const json: tf.io.ModelJSON = {
    modelTopology: artifacts.modelTopology as {},
    format: artifacts.format ?? 'layers-model',
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy ?? null,
    weightsManifest: [{ paths: [shard], weights: artifacts.weightSpecs ?? [] }],
  };
  if (artifacts.trainingConfig != null) json.trainingConfig = artifacts.trainingConfig;
  if (artifacts.signature != null) json.signature = artifacts.signature;
  if (artifacts.userDefinedMetadata != null) json.userDefinedMetadata = artifacts.userDefinedMetadata;
  if (artifacts.modelInitializer != null) json.modelInitializer = artifacts.modelInitializer;
  if (artifacts.initializerSignature != null) json.initializerSignature = artifacts.initializerSignature;
  return json;
}

/**
 * Writes `artifacts` into directory `dir` as model.json + one weight shard (weights.bin, or
 * weights-<16 hex digits of its hash>.bin when the folder already has a model), safely under crashes
 * and concurrent saves and loads (see saveInPlace). Fails before touching `dir` if the weight data does not match the specs.
 *
 * Usage: `await writeModelArtifacts('models/net', artifacts);`
 */
export async function writeModelArtifacts(dir: string, artifacts: tf.io.ModelArtifacts,
  options: FileSystemOptions = {}): Promise<tf.io.SaveResult> {
  if (artifacts.modelTopology == null || artifacts.modelTopology instanceof ArrayBuffer) {
    throw new Error(`Cannot save to ${dir}: expected a JSON model topology (a layers model).`);
  }
  const weights = new Uint8Array(artifacts.weightData == null ? new ArrayBuffer(0)
    : tf.io.CompositeArrayBuffer.join(artifacts.weightData));
  const expected = (artifacts.weightSpecs ?? []).reduce((sum, entry) => sum + entryBytes(entry), 0);
  if (weights.byteLength !== expected) {
    throw new Error(`Cannot save to ${dir}: the weight specs describe ${expected} bytes but the weight data has ` +
      `${weights.byteLength}; nothing was written.`);
  }
  try {
    await saveInPlace(dir, weights, (shard) => Buffer.from(JSON.stringify(modelJsonFor(artifacts, shard)), 'utf8'),
      { writeFile: options.writeFile, shardName: WEIGHTS_BIN, lockTimeoutMs: options.lockTimeoutMs });
  } catch (e) {
    throw new Error(`Saving the model to ${dir} failed (${(e as Error).message}); ${dir} was left as it was.`);
  }
  return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
}

/**
 * IOHandler for `model.save(...)` (a directory) and `tf.loadLayersModel(...)` (a model.json or
 * its directory), without tfjs-node.
 *
 * Usage: `await model.save(fileSystem('models/net')); const m = await tf.loadLayersModel(fileSystem('models/net/model.json'));`
 */
export function fileSystem(modelPath: string, options: FileSystemOptions = {}): tf.io.IOHandler {
  const p = stripFileScheme(modelPath);
  return {
    save: (artifacts) => writeModelArtifacts(p, artifacts, options),
    load: () => readCheckedArtifacts(p, options),
  };
}
