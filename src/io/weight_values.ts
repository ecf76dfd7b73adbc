/**
 * Checks the weight values of a model file before they reach a model: a file that loads but can
 * only predict NaN (a negative moving variance, a NaN or infinite weight) is refused with the
 * layer and the weight named, rather than loading silently.
 */
import * as tf from '@tensorflow/tfjs';
import {
  ALIAS_BN, CUSTOM_BN, CUSTOM_LN, GROUP_NORM, GROUP_NORM_ALIASES, INSTANCE_NORM, INSTANCE_NORM_ALIASES, MODEL_CLASSES,
  STOCK_BN, STOCK_LN,
} from '../core/class_names';
import { ModelFileError } from './errors';
import { entryBytes } from './model_json';

/** What a load accepts in weight values. */
export interface WeightValueOptions {
  /**
   * Accept NaN and ±Infinity in the weights of layers other than normalization layers (default
   * false: refused). Normalization layers' weights must always be finite.
   */
  allowNonFiniteWeights?: boolean;
}

const NORMALIZATION = new Set([STOCK_BN, CUSTOM_BN, ...ALIAS_BN, STOCK_LN, CUSTOM_LN, GROUP_NORM, ...GROUP_NORM_ALIASES,
  INSTANCE_NORM, ...INSTANCE_NORM_ALIASES]);
/** Weights that are a variance or a standard deviation: negative values make the layer divide by NaN. */
const NON_NEGATIVE = new Set(['moving_variance', 'moving_stddev', 'renorm_stddev']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value != null && !Array.isArray(value);
}

/** Layer name -> class name for every layer in the topology, nested models and wrapped layers included. */
function layerClasses(topology: unknown): Map<string, string> {
  const classes = new Map<string, string>();
  const stack: unknown[] = [topology];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      for (const item of value) if (typeof item === 'object' && item != null) stack.push(item);
    } else if (isObject(value)) {
      const cls = value['class_name'] ?? value['className'];
      const config = value['config'];
      if (typeof cls === 'string' && !MODEL_CLASSES.includes(cls) && isObject(config) && typeof config['name'] === 'string') {
        classes.set(config['name'], cls);
      }
      for (const item of Object.values(value)) if (typeof item === 'object' && item != null) stack.push(item);
    }
  }
  return classes;
}

/** IEEE 754 half precision to a number. */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** The values of one manifest entry stored at `offset` of `data`, dequantized; null for int32 and bool. */
function valuesOf(data: DataView, offset: number, entry: tf.io.WeightsManifestEntry): ArrayLike<number> | null {
  if (entry.dtype !== 'float32') return null;
  const n = entry.shape.reduce((a, b) => a * b, 1);
  const q = entry.quantization;
  if (q == null) {
    if ((data.byteOffset + offset) % 4 === 0) return new Float32Array(data.buffer, data.byteOffset + offset, n);
    return new Float32Array(data.buffer.slice(data.byteOffset + offset, data.byteOffset + offset + 4 * n));
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (q.dtype === 'float16') out[i] = halfToNumber(data.getUint16(offset + 2 * i, true));
    else {
      const stored = q.dtype === 'uint8' ? data.getUint8(offset + i) : data.getUint16(offset + 2 * i, true);
      out[i] = stored * (q.scale ?? 1) + (q.min ?? 0);
    }
  }
  return out;
}

/**
 * Throws ModelFileError (naming `file`, the layer and the weight) if a normalization layer's
 * weight is NaN or infinite, or its moving variance or standard deviation is negative, or (unless
 * `allowNonFiniteWeights`) any other layer's weight is NaN or infinite.
 *
 * Usage: `checkWeightValues(artifacts, 'm/model.json');`
 */
export function checkWeightValues(artifacts: tf.io.ModelArtifacts, file: string, options: WeightValueOptions = {}): void {
  const specs = artifacts.weightSpecs ?? [];
  if (specs.length === 0 || artifacts.weightData == null) return;
  const buffer = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
  const data = new DataView(buffer);
  const classes = layerClasses(artifacts.modelTopology);
  let offset = 0;
  for (const entry of specs) {
    const bytes = entryBytes(entry);
    const values = entry.group === 'optimizer' ? null : valuesOf(data, offset, entry);
    offset += bytes;
    if (values == null) continue;
    const cut = entry.name.lastIndexOf('/');
    const layer = cut < 0 ? entry.name : entry.name.slice(0, cut);
    const field = entry.name.slice(cut + 1);
    const cls = classes.get(layer) ?? classes.get(layer.slice(layer.lastIndexOf('/') + 1));
    const normalization = cls != null ? NORMALIZATION.has(cls) : NON_NEGATIVE.has(field);
    const what = `layer '${layer}'${cls != null ? ` (${cls})` : ''}: weight '${field}'`;
    let nonFinite = 0;
    let negative = 0;
    let firstBad = -1;
    let firstNegative = -1;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!Number.isFinite(v)) {
        if (nonFinite++ === 0) firstBad = i;
      } else if (v < 0 && normalization && NON_NEGATIVE.has(field)) {
        if (negative++ === 0) firstNegative = i;
      }
    }
    if (nonFinite > 0 && (normalization || !options.allowNonFiniteWeights)) {
      throw new ModelFileError(file, `${what} has ${nonFinite} of ${values.length} values NaN or infinite (the first at ` +
        `index ${firstBad}: ${values[firstBad]}); expected finite numbers` + (normalization ? '.'
        : ' (loadModel and fileSystem accept them with the allowNonFiniteWeights option).'));
    }
    if (negative > 0) {
      throw new ModelFileError(file, `${what} has ${negative} of ${values.length} values below 0 (the first at index ` +
        `${firstNegative}: ${values[firstNegative]}); expected values >= 0, as a variance or standard deviation is.`);
    }
  }
}
