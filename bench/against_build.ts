/**
 * `npm run bench:against -- <dir>`: this checkout's layers against the same layers of another
 * checkout of this package (for example the commit before a refactoring, checked out with
 * `git worktree add <dir> <commit>` and its `src/core/class_names.ts` names prefixed so that both
 * register), side by side in one run with the method of bench/measure.ts: both on the same
 * input, alternating samples, medians. Prints one row per backend, case and mode with
 * "ratio" = other / this (above 1: this checkout is faster).
 *
 * Usage: `npm run bench:against -- /tmp/old-checkout` | `... -- /tmp/old --quick --backends cpu`
 */
import * as path from 'path';
import * as v8 from 'v8';
import * as vm from 'vm';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { BatchNormalization } from '../src/layer/batch_normalization';
import { groupNormalization, instanceNormalization } from '../src/layer/group_normalization';
import { layerNormalization } from '../src/layer/layer_normalization';
import { BenchCase, CASES, MODES } from './layer_table';
import { compareLayers } from './measure';

type Make = (args: Record<string, unknown>) => tf.layers.Layer;

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (dir == null || dir.startsWith('--')) throw new Error('bench:against: expected the other checkout\'s folder as the first argument');
  const quick = process.argv.includes('--quick');
  const backends = (option('--backends') ?? 'cpu,wasm').split(',');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const other = (file: string) => require(path.resolve(dir, 'src', 'layer', file));
  const otherBn = other('batch_normalization').BatchNormalization as new (a: object) => tf.layers.Layer;
  const otherLn = other('layer_normalization').layerNormalization as Make;
  const otherGroup = other('group_normalization');
  const gc = (() => {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  })();
  const cases: Array<BenchCase & { make: () => [tf.layers.Layer, tf.layers.Layer] }> = [
    ...CASES.map((c) => ({ ...c, make: () => [new BatchNormalization({ axis: c.axis }), new otherBn({ axis: c.axis })] as [tf.layers.Layer, tf.layers.Layer] })),
    { name: 'LN [256, 1024]', shape: [256, 1024], axis: -1, make: () => [layerNormalization(), otherLn({})] },
    { name: 'LN [32, 128, 256]', shape: [32, 128, 256], axis: -1, make: () => [layerNormalization(), otherLn({})] },
    { name: 'GN(8) [8, 32, 32, 64]', shape: [8, 32, 32, 64], axis: -1,
      make: () => [groupNormalization({ groups: 8 }), (otherGroup.groupNormalization as Make)({ groups: 8 })] },
    { name: 'IN [8, 32, 32, 64]', shape: [8, 32, 32, 64], axis: -1,
      make: () => [instanceNormalization(), (otherGroup.instanceNormalization as Make)({})] },
  ];
  console.log('backend | case | mode | this ms | other ms | other / this (q1, median, q3 per round)');
  for (const backend of backends) {
    await tf.setBackend(backend);
    for (const c of cases) {
      for (const mode of MODES) {
        const [ours, theirs] = c.make();
        const row = await compareLayers(backend, c, mode, ours, theirs,
          { minRuns: quick ? 5 : 15, maxRuns: quick ? 15 : 100, budgetMs: quick ? 500 : 3000, gc });
        const p = row.paired;
        console.log(`${backend} | ${c.name} | ${mode} | ${row.oursMs.toFixed(3)} | ${row.builtinMs?.toFixed(3)} | ` +
          `${p ? `${p.q1.toFixed(2)}, ${p.median.toFixed(2)}, ${p.q3.toFixed(2)}` : 'n/a'}`);
      }
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
