/**
 * The normalization family's bench cases, shared by `npm run bench` (Node, the layers from
 * src/) and `npm run bench:browser` (the layers from the built package, as a page imports them):
 * ours against tfjs's built-in (LN) or a composite tf-ops layer (GN, IN; bench/composite_norm.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { CompositeGroupNorm } from './composite_norm';
import type { BenchCase } from './layer_table';

export interface FamilyCase extends BenchCase {
  make: () => { ours: tf.layers.Layer; reference: tf.layers.Layer };
}

/** The layer factories the cases use, from wherever the caller imports the package. */
export interface FamilyLayers {
  layerNormalization(): tf.layers.Layer;
  groupNormalization(args: { groups: number }): tf.layers.Layer;
  instanceNormalization(): tf.layers.Layer;
}

/**
 * LN at two shapes, GN(8) and IN, each with its reference.
 *
 * Usage: `familyCases({ layerNormalization, groupNormalization, instanceNormalization })`
 */
export function familyCases(lib: FamilyLayers): FamilyCase[] {
  return [
    { name: 'LN [256, 1024]', shape: [256, 1024], axis: -1,
      make: () => ({ ours: lib.layerNormalization(), reference: tf.layers.layerNormalization() }) },
    { name: 'LN [32, 128, 256]', shape: [32, 128, 256], axis: -1,
      make: () => ({ ours: lib.layerNormalization(), reference: tf.layers.layerNormalization() }) },
    { name: 'GN(8) [8, 32, 32, 64]', shape: [8, 32, 32, 64], axis: -1,
      make: () => ({ ours: lib.groupNormalization({ groups: 8 }), reference: new CompositeGroupNorm(8) }) },
    { name: 'IN [8, 32, 32, 64]', shape: [8, 32, 32, 64], axis: -1,
      make: () => ({ ours: lib.instanceNormalization(), reference: new CompositeGroupNorm(64) }) },
  ];
}
