/**
 * Reading HDF5 files that may come from someone else, through jsfive (a pure-JavaScript HDF5
 * reader). A dataset's declared shape is checked against the file's size and a budget before any
 * of its values is read (HDF5 lets a few bytes declare a dataset of 10^12 values), the walk
 * through groups is bounded in depth and in the number of objects, and every failure of the
 * parser becomes a ModelFileError naming the file.
 */
import * as jsfive from 'jsfive';
import { ModelFileError } from '../errors';

/** Deepest group nesting walked: Keras nests a few levels per sub-model. */
export const MAX_HDF5_DEPTH = 64;
/** Most objects (groups and datasets) walked in one file; far above any real model. */
export const MAX_HDF5_OBJECTS = 1_000_000;
/**
 * How many times its own file size the values a file declares may take. Keras stores weights
 * uncompressed (ratio 1); gzip-compressed float weights shrink far less than this.
 */
export const MAX_HDF5_EXPANSION = 100;

/** One weight as read: tfjs's dtype, its shape and its values. */
export interface ReadWeight {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
}

export type Hdf5Group = jsfive.Group;
export type Hdf5Dataset = jsfive.Dataset;

/** An HDF5 file opened for checked reading; `budget` is how many value bytes may still be read. */
export interface Hdf5File {
  root: Hdf5Group;
  /** How the file is named in messages (e.g. `m.keras: model.weights.h5`). */
  shown: string;
  budget: number;
  objects: number;
}

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * Whether `bytes` starts with the HDF5 signature.
 *
 * Usage: `if (isHdf5(bytes)) ...`
 */
export function isHdf5(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && HDF5_SIGNATURE.every((b, i) => bytes[i] === b);
}

function parserError(shown: string, what: string, e: unknown): ModelFileError {
  if (e instanceof ModelFileError) return e;
  const reason = e instanceof Error ? e.message : String(e);
  return new ModelFileError(shown, `${what}: the HDF5 data is damaged or truncated (${reason}).`);
}

/**
 * Opens `bytes` as an HDF5 file. `maxValueBytes` caps the bytes all datasets read may declare
 * together (and MAX_HDF5_EXPANSION times the file's size caps it too).
 *
 * Usage: `const h5 = openHdf5(bytes, 'm.h5', 1 << 30);`
 */
export function openHdf5(bytes: Uint8Array, shown: string, maxValueBytes: number): Hdf5File {
  if (!isHdf5(bytes)) {
    throw new ModelFileError(shown, 'is not an HDF5 file (it lacks the 8-byte HDF5 signature at its start).');
  }
  const buffer = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes.buffer as ArrayBuffer : bytes.slice().buffer as ArrayBuffer;
  try {
    const root = new jsfive.File(buffer, shown);
    return { root, shown, budget: Math.min(maxValueBytes, MAX_HDF5_EXPANSION * Math.max(bytes.length, 1 << 20)), objects: 0 };
  } catch (e) {
    throw parserError(shown, 'cannot be opened', e);
  }
}

/**
 * The child `name` of `group` (a Group or a Dataset), or null when there is none.
 *
 * Usage: `const g = child(h5, h5.root, 'model_weights');`
 */
export function child(h5: Hdf5File, group: Hdf5Group, name: string): Hdf5Group | Hdf5Dataset | null {
  if (++h5.objects > MAX_HDF5_OBJECTS) {
    throw new ModelFileError(h5.shown, `holds more than ${MAX_HDF5_OBJECTS} groups and datasets; expected a Keras weights file.`);
  }
  try {
    if (!keys(h5, group).includes(name)) return null;
    return group.get(name) ?? null;
  } catch (e) {
    throw parserError(h5.shown, `reading '${name}'`, e);
  }
}

/**
 * The names of `group`'s children, in the file's (name) order.
 *
 * Usage: `for (const name of keys(h5, group)) ...`
 */
export function keys(h5: Hdf5File, group: Hdf5Group): string[] {
  try {
    return [...group.keys];
  } catch (e) {
    throw parserError(h5.shown, 'listing a group', e);
  }
}

/**
 * Whether `node` is a group.
 *
 * Usage: `if (isGroup(node)) ...`
 */
export function isGroup(node: unknown): node is Hdf5Group {
  return node instanceof jsfive.Group;
}

/**
 * Attribute `name` of `node`, or undefined.
 *
 * Usage: `const config = attribute(h5, h5.root, 'model_config');`
 */
export function attribute(h5: Hdf5File, node: Hdf5Group | Hdf5Dataset, name: string): unknown {
  try {
    return node.attrs[name];
  } catch (e) {
    throw parserError(h5.shown, `reading attribute '${name}'`, e);
  }
}

/**
 * A string attribute, or a list of strings that Keras split into `name0`, `name1`, ... because
 * HDF5 caps an object header (and so an attribute) at 64 KB.
 *
 * Usage: `const names = stringListAttribute(h5, group, 'weight_names');`
 */
export function stringListAttribute(h5: Hdf5File, node: Hdf5Group | Hdf5Dataset, name: string): string[] | null {
  const whole = attribute(h5, node, name);
  const parts: unknown[] = [];
  if (whole !== undefined) parts.push(whole);
  else {
    for (let i = 0; ; i++) {
      const part = attribute(h5, node, `${name}${i}`);
      if (part === undefined) break;
      parts.push(part);
    }
    if (parts.length === 0) return null;
  }
  const out: string[] = [];
  for (const part of parts) {
    const items = typeof part === 'string' ? [part] : Array.isArray(part) ? part : null;
    if (items == null || !items.every((s) => typeof s === 'string')) {
      throw new ModelFileError(h5.shown, `attribute '${name}' of '${(node as { name?: string }).name ?? '/'}' ` +
        'is not a list of strings.');
    }
    out.push(...(items as string[]));
  }
  return out;
}

const DTYPE = /^[<>=|!]?([fiu])([1248])$/;

/**
 * Reads dataset `ds` as a tfjs weight: floating point becomes float32, integers int32 (as the
 * TF.js converter does). The declared size is checked against the file's budget first, so a
 * dataset declaring 10^12 values fails before anything is allocated.
 *
 * Usage: `const w = readDataset(h5, ds, 'layers/dense/vars/0');`
 */
export function readDataset(h5: Hdf5File, ds: Hdf5Dataset, name: string): ReadWeight {
  let shape: number[];
  let dtype: string | unknown[];
  try {
    shape = [...ds.shape];
    dtype = ds.dtype;
  } catch (e) {
    throw parserError(h5.shown, `reading dataset '${name}'`, e);
  }
  const match = typeof dtype === 'string' ? DTYPE.exec(dtype) : null;
  if (match == null || (match[1] === 'f' && match[2] === '1')) {
    throw new ModelFileError(h5.shown, `dataset '${name}' has HDF5 type ${JSON.stringify(dtype)}; expected floating ` +
      'point or integer weights.');
  }
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new ModelFileError(h5.shown, `dataset '${name}' declares shape ${JSON.stringify(shape)}; expected non-negative integers.`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const bytes = count * Number(match[2]);
  if (!(bytes <= h5.budget)) {
    throw new ModelFileError(h5.shown, `dataset '${name}' declares shape ${JSON.stringify(shape)} (${count} values, ` +
      `${bytes} bytes), more than this file can hold (${h5.budget} bytes left of its limit); nothing was read.`);
  }
  h5.budget -= bytes;
  let values: ArrayLike<number | bigint>;
  try {
    values = ds.value;
  } catch (e) {
    throw parserError(h5.shown, `reading dataset '${name}'`, e);
  }
  if (values == null || values.length !== count) {
    throw new ModelFileError(h5.shown, `dataset '${name}' holds ${values?.length ?? 0} values, but its shape ` +
      `${JSON.stringify(shape)} declares ${count}.`);
  }
  const isFloat = match[1] === 'f';
  const data = isFloat ? new Float32Array(count) : new Int32Array(count);
  for (let i = 0; i < count; i++) data[i] = Number(values[i]);
  return { name, shape, dtype: isFloat ? 'float32' : 'int32', data };
}
