/**
 * A `tf.io.IOHandler` for the local file system that needs no tfjs-node. It reads and writes the
 * standard layers-model format (model.json + weight shards), the format tfjs-node, the browser
 * and the official converter use.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { replaceDirectory, WriteFile } from './atomic_dir';
import { ModelFileError } from './errors';
import { checkModelJson, entryBytes } from './model_json';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

export interface FileSystemOptions {
  /** Replaces the function that writes (and fsyncs) each file of a save; for fault injection. */
  writeFile?: WriteFile;
}

/** `file://a/b` -> `a/b`; a plain path is returned unchanged. */
export function stripFileScheme(url: string): string {
  return url.startsWith('file://') ? url.slice('file://'.length) : url;
}

/** A directory (or a path ending in .json) -> the model.json to load. */
async function resolveModelJson(p: string): Promise<string> {
  if (p.endsWith('.json')) return p;
  try {
    if ((await fs.promises.stat(p)).isDirectory()) return path.join(p, MODEL_JSON);
  } catch {
    // Fall through: the missing file is reported by the reader with its name.
  }
  return p;
}

async function readFileOrFail(file: string, what: string): Promise<Buffer> {
  try {
    return await fs.promises.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ModelFileError(file, `file not found (expected ${what}).`);
    if (code === 'EISDIR') throw new ModelFileError(file, `is a directory (expected ${what}).`);
    throw new ModelFileError(file, `cannot be read: ${(e as Error).message}`);
  }
}

function toArrayBuffer(buffer: Buffer): ArrayBuffer {
  return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
}

/**
 * Reads model.json and every weight shard it lists, checking that the shards hold exactly the
 * bytes the manifest describes. Reads only; never writes.
 *
 * Usage: `const artifacts = await readModelArtifacts('models/net/model.json');`
 */
export async function readModelArtifacts(modelPath: string): Promise<tf.io.ModelArtifacts> {
  const file = await resolveModelJson(modelPath);
  const text = (await readFileOrFail(file, 'a TensorFlow.js layers model.json')).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ModelFileError(file, `is not valid JSON (${(e as Error).message}); expected a TensorFlow.js layers model.json.`);
  }
  const modelJson = checkModelJson(parsed, file);
  const dir = path.dirname(file);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: ArrayBuffer[] = [];
  for (const group of modelJson.weightsManifest) {
    const shardFiles = group.paths.map((p) => path.join(dir, p));
    const shards = [];
    for (const shard of shardFiles) shards.push(await readFileOrFail(shard, `a weight shard listed in ${file}`));
    const expected = group.weights.reduce((sum, entry) => sum + entryBytes(entry), 0);
    const actual = shards.reduce((sum, b) => sum + b.byteLength, 0);
    if (actual !== expected) {
      const names = shardFiles.join(', ');
      const kind = actual < expected ? 'truncated' : 'oversized';
      throw new ModelFileError(names, `weight data is ${kind}: the manifest in ${file} describes ${expected} bytes ` +
        `(${group.weights.length} weights), but the file${shards.length > 1 ? 's hold' : ' holds'} ${actual} bytes.`);
    }
    specs.push(...group.weights);
    buffers.push(...shards.map(toArrayBuffer));
  }
  return tf.io.getModelArtifactsForJSONSync(modelJson, specs, tf.io.CompositeArrayBuffer.join(buffers));
}

/** The model.json tfjs-node writes: topology, one weights.bin, and the optional metadata. */
function modelJsonFor(artifacts: tf.io.ModelArtifacts): tf.io.ModelJSON {
  const json: tf.io.ModelJSON = {
    modelTopology: artifacts.modelTopology as {},
    format: artifacts.format ?? 'layers-model',
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy ?? null,
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
  };
  if (artifacts.trainingConfig != null) json.trainingConfig = artifacts.trainingConfig;
  if (artifacts.signature != null) json.signature = artifacts.signature;
  if (artifacts.userDefinedMetadata != null) json.userDefinedMetadata = artifacts.userDefinedMetadata;
  if (artifacts.modelInitializer != null) json.modelInitializer = artifacts.modelInitializer;
  if (artifacts.initializerSignature != null) json.initializerSignature = artifacts.initializerSignature;
  return json;
}

/** Weight shards the model.json currently in `dir` lists, so a save replaces them. */
async function existingShards(dir: string): Promise<string[]> {
  try {
    const json = JSON.parse(await fs.promises.readFile(path.join(dir, MODEL_JSON), 'utf8')) as tf.io.ModelJSON;
    return (json.weightsManifest ?? []).flatMap((g) => g.paths).filter((p) => typeof p === 'string');
  } catch {
    return [];
  }
}

/**
 * Writes `artifacts` into directory `dir` as model.json + weights.bin, atomically (see
 * replaceDirectory). Fails before touching `dir` if the weight data does not match the specs.
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
  const json = Buffer.from(JSON.stringify(modelJsonFor(artifacts)), 'utf8');
  try {
    await replaceDirectory(dir, [{ name: WEIGHTS_BIN, data: weights }, { name: MODEL_JSON, data: json }],
      { superseded: await existingShards(dir), writeFile: options.writeFile });
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
    load: () => readModelArtifacts(p),
  };
}
