/**
 * Loading a Keras `.keras` archive or `.h5` file anywhere tfjs runs (a browser page too): from a
 * URL, a `File` / `Blob`, or bytes already in memory.
 */
import * as tf from '@tensorflow/tfjs';
import { ModelFileError } from '../errors';
import { modelFromArtifacts } from '../from_artifacts';
import { DEFAULT_MAX_KERAS_FILE_BYTES, kerasArtifacts, KerasReadOptions } from './read';

/** Where a Keras file comes from: a URL, a File or Blob (e.g. from an `<input type="file">`), or its bytes. */
export type KerasSource = string | Blob | ArrayBuffer | Uint8Array;

export interface LoadKerasOptions extends KerasReadOptions {
  /** Most layers the model may have, nested models included (default 20000, as for model.json). */
  maxLayers?: number;
  /** Replaces `fetch` for URLs (e.g. to add credentials). */
  fetchFunc?: typeof fetch;
}

function tooBig(name: string, size: number, max: number): ModelFileError {
  return new ModelFileError(name, `is ${size} bytes, more than the limit of ${max} bytes (raise it with the maxFileBytes option).`);
}

async function bytesOf(source: KerasSource, name: string, options: LoadKerasOptions): Promise<Uint8Array> {
  const max = options.maxFileBytes ?? DEFAULT_MAX_KERAS_FILE_BYTES;
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (typeof source !== 'string') {
    if (source.size > max) throw tooBig(name, source.size, max);
    return new Uint8Array(await source.arrayBuffer());
  }
  let response: Response;
  try {
    response = await (options.fetchFunc ?? fetch)(source);
  } catch (e) {
    throw new ModelFileError(name, `cannot be fetched: ${(e as Error).message}`);
  }
  if (!response.ok) throw new ModelFileError(name, `cannot be fetched: HTTP ${response.status} ${response.statusText}.`);
  const declared = Number(response.headers.get('content-length'));
  if (declared > max) throw tooBig(name, declared, max);
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.length > max) throw tooBig(name, bytes.length, max);
  return bytes;
}

/**
 * Loads a Keras 3 `.keras` archive or a legacy Keras `.h5` model, checked as loadModel checks a
 * model.json (size limits, archive entry names, declared sizes before allocation). In Node, give
 * loadModel a file path instead.
 *
 * Usage: `const model = await loadKerasModel(input.files[0]);` or `await loadKerasModel('/models/net.keras')`
 */
export async function loadKerasModel(source: KerasSource, options: LoadKerasOptions = {}): Promise<tf.LayersModel> {
  const name = typeof source === 'string' ? source
    : typeof Blob !== 'undefined' && source instanceof Blob ? (source as File).name ?? 'the given Blob' : 'the given bytes';
  const bytes = await bytesOf(source, name, options);
  return modelFromArtifacts(kerasArtifacts(bytes, name, options), name, options);
}
