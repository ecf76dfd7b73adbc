/**
 * `tfjs-batchnorm inspect`: what a model file holds, without reading its JSON by hand: the
 * format and the tool (and version) that wrote it, inputs and outputs, the layer classes, every
 * normalization layer with its axis and whether `fold` folds it, and the weights' size.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { foldBatchNorm } from '../convert/fold';
import { leafLayers, pathKey } from '../convert/rebuild';
import { readModelJson } from './models';

export interface NormalizationReport {
  /** Model names, then the layer name, joined with '/'. */
  path: string;
  className: string;
  axis: unknown;
  folds: boolean;
  /** Into which layer it folds, or why it does not. */
  note: string;
}

export interface InspectReport {
  file: string;
  format: string;
  /** What wrote the file, as far as it says (Keras or tfjs-layers version, converter). */
  writtenBy: string[];
  inputs: (number | null)[][];
  outputs: (number | null)[][];
  /** Leaf layers per class name, most frequent first. */
  layerClasses: Record<string, number>;
  normalization: NormalizationReport[];
  parameters: number;
  /** Bytes of the weight shards on disk (null when the format keeps no separate shards). */
  weightBytes: number | null;
  shards: number | null;
  /** Class labels from a Teachable Machine style metadata.json beside the model, if any. */
  labels: string[] | null;
}

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);

function writers(json: Record<string, unknown> | null): string[] {
  if (json == null) return [];
  const topology = (json.modelTopology ?? {}) as Record<string, unknown>;
  const keras = str(topology.keras_version);
  return [
    keras != null ? `${/^tfjs/.test(keras) ? '' : 'Keras '}${keras}${str(topology.backend) != null ? ` (backend ${topology.backend})` : ''}` : null,
    str(json.generatedBy), str(json.convertedBy) != null ? `converted by ${json.convertedBy}` : null,
  ].filter((w): w is string => w != null);
}

function shardBytes(file: string, json: Record<string, unknown> | null): { bytes: number; shards: number } | null {
  const manifest = json?.weightsManifest;
  if (!Array.isArray(manifest)) return null;
  const paths = manifest.flatMap((group: { paths?: unknown }) => (Array.isArray(group.paths) ? group.paths : []));
  let bytes = 0;
  for (const p of paths) bytes += fs.statSync(path.join(path.dirname(file), String(p))).size;
  return { bytes, shards: paths.length };
}

function labels(file: string): string[] | null {
  try {
    const meta = JSON.parse(fs.readFileSync(path.join(path.dirname(file), 'metadata.json'), 'utf8'));
    return Array.isArray(meta?.labels) && meta.labels.every((l: unknown) => typeof l === 'string') ? meta.labels : null;
  } catch {
    return null;
  }
}

/**
 * Describes the loaded `model` read from `file`.
 *
 * Usage: `const report = await inspectModel(model, 'm/model.json');`
 */
export async function inspectModel(model: tf.LayersModel, file: string): Promise<InspectReport> {
  const json = readModelJson(file);
  const ext = path.extname(file).toLowerCase();
  const shards = shardBytes(file, json);
  const format = ext === '.keras' ? 'Keras 3 archive (.keras)' : ext === '.h5' ? 'Keras HDF5 file (.h5)'
    : `TF.js layers model (model.json${shards != null ? ` + ${shards.shards} weight shard(s)` : ''})`;
  const layers = leafLayers(model);
  const classes: Record<string, number> = {};
  for (const layer of layers.values()) {
    if (layer.getClassName() !== 'InputLayer') classes[layer.getClassName()] = (classes[layer.getClassName()] ?? 0) + 1;
  }
  const { model: folded, folded: done, kept } = await foldBatchNorm(model);
  folded.dispose();
  const notes = new Map<string, { folds: boolean; note: string }>([
    ...done.map((f) => [pathKey(f.batchNorm), { folds: true, note: `folds into ${f.into[f.into.length - 1]} (${f.intoClass})` }] as const),
    ...kept.map((k) => [pathKey(k.batchNorm), { folds: false, note: `kept: ${k.reason}` }] as const),
  ]);
  const normalization: NormalizationReport[] = [];
  for (const [key, layer] of layers) {
    if (!/Normalization/.test(layer.getClassName())) continue;
    const fold = notes.get(key) ?? { folds: false, note: 'does not fold (only BatchNormalization folds)' };
    // The path without the outermost model's name, as the other commands print it.
    const where = (JSON.parse(key) as string[]).slice(1).join('/');
    normalization.push({ path: where, className: layer.getClassName(), axis: layer.getConfig().axis, ...fold });
  }
  return {
    file,
    format,
    writtenBy: writers(json),
    inputs: model.inputs.map((t) => t.shape),
    outputs: model.outputs.map((t) => t.shape),
    layerClasses: Object.fromEntries(Object.entries(classes).sort((a, b) => b[1] - a[1])),
    normalization,
    parameters: model.countParams(),
    weightBytes: shards?.bytes ?? null,
    shards: shards?.shards ?? null,
    labels: labels(file),
  };
}

/**
 * The report as text, one fact per line.
 *
 * Usage: `out.stdout(formatInspect(report))`
 */
export function formatInspect(r: InspectReport): string {
  const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
  const lines = [
    `model:          ${r.file}`,
    `format:         ${r.format}`,
    `written by:     ${r.writtenBy.length > 0 ? r.writtenBy.join('; ') : 'not recorded in the file'}`,
    `inputs:         ${JSON.stringify(r.inputs)}`,
    `outputs:        ${JSON.stringify(r.outputs)}`,
    `layers:         ${Object.entries(r.layerClasses).map(([c, n]) => `${c} ${n}`).join(', ')}`,
    `weights:        ${r.parameters.toLocaleString('en-US')} parameters` +
      (r.weightBytes != null ? `, ${mb(r.weightBytes)} in ${r.shards} shard(s)` : ''),
  ];
  if (r.labels != null) lines.push(`labels:         ${r.labels.join(', ')} (metadata.json)`);
  const folding = r.normalization.filter((n) => n.folds).length;
  lines.push(`normalization:  ${r.normalization.length} layer(s), ${folding} of them fold`);
  for (const n of r.normalization) lines.push(`  ${n.path}  ${n.className}  axis ${JSON.stringify(n.axis)}  ${n.note}`);
  return `${lines.join('\n')}\n`;
}
