/**
 * Hostile .keras and .h5 files, built here with fflate and the package's HDF5 writer: each fails
 * with a ModelFileError that says what is wrong, within seconds and without allocating what the
 * file declares, leaks no tensor, and the CLI exits 2 and writes nothing.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { strToU8, unzipSync, zipSync } from 'fflate';
import '../src';
import { loadModel, ModelFileError } from '../src/io';
import { encodeHdf5, h5Group } from '../src/io/keras3/hdf5_write';
import { cli } from './support/cli';

const FIXTURE = path.join(__dirname, 'fixtures', 'keras3', 'models', 'renorm_frozen');
let dir: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keras-hostile-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The real archive's entries, to rebuild with one thing changed. */
function realEntries(): Record<string, Uint8Array> {
  return unzipSync(new Uint8Array(fs.readFileSync(path.join(FIXTURE, 'model.keras'))));
}

function put(name: string, bytes: Uint8Array): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}

/** loadModel(file) rejects with a ModelFileError matching `message`, quickly, leaking nothing; so does the CLI, with exit 2. */
async function expectRefused(file: string, message: RegExp): Promise<void> {
  const before = tf.memory().numTensors;
  const start = Date.now();
  const error = await loadModel(file).then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(ModelFileError);
  expect((error as Error).message).toMatch(message);
  expect((error as Error).message).toContain(file);
  expect(Date.now() - start).toBeLessThan(5000);
  expect(tf.memory().numTensors).toBe(before);
  const out = path.join(dir, 'out.keras');
  const r = await cli('convert', file, out);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(fs.existsSync(out)).toBe(false);
  expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
}

test('an entry name that climbs out of the archive (zip slip)', async () => {
  for (const name of ['../../evil.sh', '/etc/cron.d/x', 'assets/..\\..\\x', 'C:/x']) {
    const file = put('slip.keras', zipSync({ ...realEntries(), [name]: strToU8('#!/bin/sh') }));
    await expectRefused(file, /holds an entry named .* which points outside the archive/);
  }
});

test('a zip bomb: model.weights.h5 deflates 16 MB of zeros into a few KB', async () => {
  const bomb = zipSync({ ...realEntries(), 'model.weights.h5': [new Uint8Array(16 * 1024 * 1024), { level: 6 }] });
  expect(bomb.length).toBeLessThan(1024 * 1024);
  const file = put('bomb.keras', bomb);
  await expectRefused(file, /model\.weights\.h5: declares 16777216 bytes stored in \d+ .*decompression bomb/);
});

test('an HDF5 dataset declaring 10^12 values in a few bytes', async () => {
  // A real weights file whose one dataset's declared shape is then raised to [10^6, 10^6].
  const root = h5Group();
  const vars = h5Group({ name: 'dense' });
  root.children.set('layers', h5Group());
  (root.children.get('layers') as ReturnType<typeof h5Group>).children.set('dense', h5Group());
  const dense = (root.children.get('layers') as ReturnType<typeof h5Group>).children.get('dense') as ReturnType<typeof h5Group>;
  dense.children.set('vars', vars);
  vars.children.set('0', { kind: 'dataset', shape: [3, 7], data: new Float32Array(21) });
  const h5 = encodeHdf5(root);
  // Dataspace message, version 2: [version 2, rank 2, flags 0, simple 1] then two 8-byte sizes.
  const pattern = [2, 2, 0, 1, 3, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0];
  const at = h5.findIndex((_, i) => pattern.every((b, j) => h5[i + j] === b));
  expect(at).toBeGreaterThan(0);
  const view = new DataView(h5.buffer);
  view.setUint32(at + 4, 1e6, true);
  view.setUint32(at + 12, 1e6, true);
  const file = put('shape_bomb.keras', zipSync({ ...realEntries(), 'model.weights.h5': h5 }));
  await expectRefused(file, /dataset 'layers\/dense\/vars\/0' declares shape \[1000000,1000000\] \(1000000000000 values.*nothing was read/);
});

test('a truncated .keras and a truncated .h5', async () => {
  const archive = fs.readFileSync(path.join(FIXTURE, 'model.keras'));
  await expectRefused(put('cut.keras', archive.subarray(0, Math.floor(archive.length / 2))), /is not a readable zip archive/);
  const h5 = fs.readFileSync(path.join(FIXTURE, 'model.h5'));
  await expectRefused(put('cut.h5', h5.subarray(0, Math.floor(h5.length / 2))), /HDF5 data is damaged or truncated/);
});

test('a .keras whose config.json names a layer its weights file lacks', async () => {
  const entries = realEntries();
  const config = JSON.parse(new TextDecoder().decode(entries['config.json']));
  const layers = config.config.layers as { class_name: string; name: string; config: Record<string, unknown>; inbound_nodes: unknown[] }[];
  // A third Dense, fed by the last one: config.json has it, model.weights.h5 has no layers/dense_2.
  const last = layers[layers.length - 1];
  const extra = JSON.parse(JSON.stringify(last));
  extra.name = 'dense_extra';
  extra.config.name = 'dense_extra';
  extra.config.units = 1;
  extra.inbound_nodes[0].args[0].config.keras_history = [last.name, 0, 0];
  layers.push(extra);
  config.config.output_layers = ['dense_extra', 0, 0];
  const file = put('missing.keras', zipSync({ ...entries, 'config.json': strToU8(JSON.stringify(config)) }));
  await expectRefused(file, /layer 'dense_extra' creates weight 'kernel'.*more than the weights manifest provides/);
});

test('a file that is neither a zip nor HDF5, and an over-limit file', async () => {
  await expectRefused(put('text.keras', strToU8('not a model')), /is neither a Keras 3 archive \(a zip file\) nor an HDF5 file/);
  const error = await loadModel(path.join(FIXTURE, 'model.keras'), { maxFileBytes: 1000 }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ModelFileError);
  expect((error as Error).message).toMatch(/is \d+ bytes, more than the limit of 1000 bytes/);
});
