/**
 * The small HDF5 writer against an independent reader (jsfive) and the checksum against the
 * published test values of Bob Jenkins's lookup3.c; that h5py (so Keras) reads its files is
 * checked by scripts/keras_roundtrip.py.
 */
import * as jsfive from 'jsfive';
import { encodeHdf5, h5Group, lookup3 } from '../src/io/keras3/hdf5_write';
import { child, isGroup, openHdf5, readDataset } from '../src/io/keras3/hdf5_read';

test('lookup3 gives the values lookup3.c prints for its test strings', () => {
  const text = new TextEncoder().encode('Four score and seven years ago');
  expect(lookup3(text, 0)).toBe(0x17770551);
  expect(lookup3(text, 1)).toBe(0xcd628161);
  expect(lookup3(new Uint8Array(0), 0)).toBe(0xdeadbeef);
});

test('groups, attributes and float32 / int32 / scalar / empty datasets read back as written', () => {
  const root = h5Group();
  const vars = h5Group({ name: 'dense_7', note: 'ünïcode' });
  root.children.set('layers', h5Group());
  (root.children.get('layers') as ReturnType<typeof h5Group>).children.set('vars', vars);
  const floats = Float32Array.from({ length: 24 }, (_, i) => (i - 11) / 3);
  vars.children.set('0', { kind: 'dataset', shape: [2, 3, 4], data: floats });
  vars.children.set('1', { kind: 'dataset', shape: [], data: new Int32Array([-123456]) });
  vars.children.set('2', { kind: 'dataset', shape: [0, 5], data: new Float32Array(0) });
  vars.children.set('10', { kind: 'dataset', shape: [3], data: new Int32Array([2 ** 31 - 1, -(2 ** 31), 0]) });
  const bytes = encodeHdf5(root);

  const file = new jsfive.File(bytes.buffer as ArrayBuffer, 'w.h5');
  const group = file.get('layers/vars') as jsfive.Group;
  expect(group.keys.sort()).toEqual(['0', '1', '10', '2']);
  expect(group.attrs).toEqual({ name: 'dense_7', note: 'ünïcode' });

  const h5 = openHdf5(bytes, 'w.h5', 1 << 20);
  const layers = child(h5, h5.root, 'layers');
  expect(isGroup(layers)).toBe(true);
  const read = (name: string) => readDataset(h5, group.get(name) as jsfive.Dataset, name);
  expect(read('0')).toEqual({ name: '0', shape: [2, 3, 4], dtype: 'float32', data: floats });
  expect(read('1')).toEqual({ name: '1', shape: [], dtype: 'int32', data: new Int32Array([-123456]) });
  expect(read('2')).toEqual({ name: '2', shape: [0, 5], dtype: 'float32', data: new Float32Array(0) });
  expect(Array.from(read('10').data)).toEqual([2 ** 31 - 1, -(2 ** 31), 0]);
});

test('a dataset whose values do not fill its shape, and a bad link name, are refused before writing', () => {
  const root = h5Group();
  root.children.set('x', { kind: 'dataset', shape: [2, 2], data: new Float32Array(3) });
  expect(() => encodeHdf5(root)).toThrow('HDF5 dataset of shape [2,2] given 3 values.');
  const slash = h5Group();
  slash.children.set('a/b', h5Group());
  expect(() => encodeHdf5(slash)).toThrow(/link name "a\/b" must be 1-255 bytes without '\/'/);
});
