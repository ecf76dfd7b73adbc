/**
 * A small HDF5 writer for what Keras keeps in an HDF5 file: nested groups, float32 / int32
 * datasets stored contiguously, and string attributes. It writes the "latest" file format of the
 * HDF5 specification (superblock version 2, version 2 object headers, groups whose links live in
 * their object header), which HDF5 1.8 and later (h5py, so Keras) read.
 *
 * Why not a library: h5wasm (the HDF5 C library compiled to WebAssembly, the one JavaScript HDF5
 * writer) ships only ES modules, which the CommonJS build and the jest runtime cannot require, and
 * weighs 4 MB; jsfive, used for reading, cannot write. See docs/keras3.md.
 *
 * Format reference: "HDF5 File Format Specification Version 3.0" (The HDF Group), sections
 * II.A (superblock), IV.A.1.b (version 2 object header) and IV.A.2 (messages).
 */

/** A dataset: its values in C order and its shape. */
export interface H5Dataset {
  kind: 'dataset';
  shape: number[];
  data: Float32Array | Int32Array;
}

/** A group: its children by name and its string attributes. */
export interface H5Group {
  kind: 'group';
  children: Map<string, H5Group | H5Dataset>;
  attrs?: Record<string, string>;
}

/**
 * A new empty group.
 *
 * Usage: `const root = h5Group(); root.children.set('vars', h5Group({ name: 'dense' }));`
 */
export function h5Group(attrs?: Record<string, string>): H5Group {
  return { kind: 'group', children: new Map(), attrs };
}

/** HDF5's undefined address, 0xffffffffffffffff (written by u64 for -1). */
const UNDEFINED = -1;
const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * Bob Jenkins's lookup3 `hashlittle` (public domain, 2006), the checksum HDF5 puts on its
 * superblock and version 2 object headers, with initial value 0.
 *
 * Usage: `const sum = lookup3(bytes);`
 */
export function lookup3(k: Uint8Array, initval = 0): number {
  let a = (0xdeadbeef + k.length + initval) >>> 0;
  let b = a;
  let c = a;
  const rot = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) >>> 0;
  let i = 0;
  let length = k.length;
  const word = (o: number) => (k[o] | (k[o + 1] << 8) | (k[o + 2] << 16) | (k[o + 3] << 24)) >>> 0;
  while (length > 12) {
    a = (a + word(i)) >>> 0; b = (b + word(i + 4)) >>> 0; c = (c + word(i + 8)) >>> 0;
    a = (a - c) >>> 0; a ^= rot(c, 4); c = (c + b) >>> 0;
    b = (b - a) >>> 0; b ^= rot(a, 6); a = (a + c) >>> 0;
    c = (c - b) >>> 0; c ^= rot(b, 8); b = (b + a) >>> 0;
    a = (a - c) >>> 0; a ^= rot(c, 16); c = (c + b) >>> 0;
    b = (b - a) >>> 0; b ^= rot(a, 19); a = (a + c) >>> 0;
    c = (c - b) >>> 0; c ^= rot(b, 4); b = (b + a) >>> 0;
    length -= 12; i += 12;
  }
  if (length === 0) return c;
  // The last 1-12 bytes, zero-padded to three words.
  const tail = new Uint8Array(12);
  tail.set(k.subarray(i, i + length));
  const t = (o: number) => (tail[o] | (tail[o + 1] << 8) | (tail[o + 2] << 16) | (tail[o + 3] << 24)) >>> 0;
  a = (a + t(0)) >>> 0; b = (b + t(4)) >>> 0; c = (c + t(8)) >>> 0;
  c ^= b; c = (c - rot(b, 14)) >>> 0;
  a ^= c; a = (a - rot(c, 11)) >>> 0;
  b ^= a; b = (b - rot(a, 25)) >>> 0;
  c ^= b; c = (c - rot(b, 16)) >>> 0;
  a ^= c; a = (a - rot(c, 4)) >>> 0;
  b ^= a; b = (b - rot(a, 14)) >>> 0;
  c ^= b; c = (c - rot(b, 24)) >>> 0;
  return c >>> 0;
}

/** Little-endian byte building. */
class Bytes {
  private parts: number[] = [];
  u8(v: number): this { this.parts.push(v & 0xff); return this; }
  u16(v: number): this { return this.u8(v).u8(v >>> 8); }
  u32(v: number): this { return this.u16(v & 0xffff).u16(v >>> 16); }
  /** A non-negative safe integer, or -1 for all bits set. */
  u64(v: number): this {
    if (v === -1) return this.u32(0xffffffff).u32(0xffffffff);
    return this.u32(v % 0x100000000).u32(Math.floor(v / 0x100000000));
  }
  raw(bytes: ArrayLike<number>): this { for (let i = 0; i < bytes.length; i++) this.parts.push(bytes[i]); return this; }
  get length(): number { return this.parts.length; }
  done(): Uint8Array { return Uint8Array.from(this.parts); }
}

function message(type: number, body: Uint8Array, flags = 0): Uint8Array {
  return new Bytes().u8(type).u16(body.length).u8(flags).raw(body).done();
}

/** Version 2 object header holding `messages`, with its checksum. */
function objectHeader(messages: Uint8Array[]): Uint8Array {
  const size = messages.reduce((s, m) => s + m.length, 0);
  const head = new Bytes().raw([0x4f, 0x48, 0x44, 0x52]).u8(2).u8(2).u32(size); // "OHDR", version 2, 4-byte chunk size
  for (const m of messages) head.raw(m);
  const bytes = head.done();
  return new Bytes().raw(bytes).u32(lookup3(bytes)).done();
}

function dataspace(shape: number[]): Uint8Array {
  const b = new Bytes().u8(2).u8(shape.length).u8(0).u8(shape.length === 0 ? 0 : 1);
  for (const d of shape) b.u64(d);
  return message(0x01, b.done());
}

function datatype(data: Float32Array | Int32Array): Uint8Array {
  if (data instanceof Float32Array) {
    // IEEE 754 single precision, little-endian: class 1, version 1; sign bit 31, exponent 23..30
    // (bias 127), mantissa 0..22 with an implied leading one.
    const b = new Bytes().u8(0x11).u8(0x20).u8(31).u8(0).u32(4).u16(0).u16(32).u8(23).u8(8).u8(0).u8(23).u32(127);
    return message(0x03, b.done(), 1);
  }
  // Signed 32-bit two's complement, little-endian: class 0, version 1.
  return message(0x03, new Bytes().u8(0x10).u8(0x08).u8(0).u8(0).u32(4).u16(0).u16(32).done(), 1);
}

function stringType(length: number): Uint8Array {
  // Fixed-length string (class 3, version 1), null-padded, UTF-8.
  return new Bytes().u8(0x13).u8(0x11).u8(0).u8(0).u32(length).done();
}

function attributeMessage(name: string, value: string): Uint8Array {
  const nameBytes = new TextEncoder().encode(name);
  const valueBytes = new TextEncoder().encode(value);
  const type = stringType(Math.max(valueBytes.length, 1));
  const space = new Bytes().u8(2).u8(0).u8(0).u8(0).done(); // scalar
  const b = new Bytes().u8(3).u8(0).u16(nameBytes.length + 1).u16(type.length).u16(space.length).u8(1)
    .raw(nameBytes).u8(0).raw(type).raw(space).raw(valueBytes);
  if (valueBytes.length === 0) b.u8(0);
  return message(0x0c, b.done());
}

/** Lays out objects one after another; addresses are byte offsets from the file's start. */
class Layout {
  chunks: Uint8Array[] = [];
  size: number;
  constructor(start: number) { this.size = start; }
  put(bytes: Uint8Array): number {
    const at = this.size;
    this.chunks.push(bytes);
    this.size += bytes.length;
    return at;
  }
}

function writeDataset(layout: Layout, ds: H5Dataset): number {
  const count = ds.shape.reduce((a, b) => a * b, 1);
  if (!ds.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || count !== ds.data.length) {
    throw new Error(`HDF5 dataset of shape ${JSON.stringify(ds.shape)} given ${ds.data.length} values.`);
  }
  const bytes = new Uint8Array(ds.data.buffer, ds.data.byteOffset, ds.data.byteLength);
  const address = bytes.length > 0 ? layout.put(bytes.slice()) : -1;
  const layoutMessage = message(0x08, new Bytes().u8(3).u8(1).u64(address < 0 ? UNDEFINED : address).u64(bytes.length).done());
  // Fill value message, version 3: space allocated late, fill value written only if set, none set.
  const fill = message(0x05, new Bytes().u8(3).u8(0x0a).done(), 1);
  return layout.put(objectHeader([dataspace(ds.shape), datatype(ds.data), fill, layoutMessage]));
}

function writeGroup(layout: Layout, group: H5Group): number {
  const links: Uint8Array[] = [];
  // Children first, so the group's links know their addresses; links in name order, as h5py lists them.
  for (const name of [...group.children.keys()].sort()) {
    const node = group.children.get(name) as H5Group | H5Dataset;
    const address = node.kind === 'group' ? writeGroup(layout, node) : writeDataset(layout, node);
    const nameBytes = new TextEncoder().encode(name);
    if (nameBytes.length === 0 || nameBytes.length > 255 || name.includes('/')) {
      throw new Error(`HDF5 link name ${JSON.stringify(name)} must be 1-255 bytes without '/'.`);
    }
    // Link message, version 1: flags 0x10 = a character set byte follows (1 = UTF-8); a hard link.
    links.push(message(0x06, new Bytes().u8(1).u8(0x10).u8(1).u8(nameBytes.length).raw(nameBytes).u64(address).done()));
  }
  // Link info (no creation order, no dense storage) and group info: links stay in the header.
  const linkInfo = message(0x02, new Bytes().u8(0).u8(0).u64(UNDEFINED).u64(UNDEFINED).done());
  const groupInfo = message(0x0a, new Bytes().u8(0).u8(0).done());
  const attrs = Object.entries(group.attrs ?? {}).map(([k, v]) => attributeMessage(k, v));
  return layout.put(objectHeader([linkInfo, groupInfo, ...links, ...attrs]));
}

/**
 * The bytes of an HDF5 file holding `root`.
 *
 * Usage: `const bytes = encodeHdf5(root);`
 */
export function encodeHdf5(root: H5Group): Uint8Array {
  const SUPERBLOCK = 48;
  const layout = new Layout(SUPERBLOCK);
  const rootAddress = writeGroup(layout, root);
  const head = new Bytes().raw(SIGNATURE).u8(2).u8(8).u8(8).u8(0).u64(0).u64(UNDEFINED).u64(layout.size).u64(rootAddress).done();
  const superblock = new Bytes().raw(head).u32(lookup3(head)).done();
  const out = new Uint8Array(layout.size);
  out.set(superblock, 0);
  let offset = SUPERBLOCK;
  for (const chunk of layout.chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
