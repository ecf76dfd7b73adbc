/**
 * The project's own fuzz suite, a few hundred seeded cases (`npm run fuzz` runs thousands): random
 * edits of model.json files, shard faults, path tricks and random layer configurations, each
 * through loadModel, tf.loadLayersModel('file://') and the CLI in a child process with a time
 * limit. The oracle (test/fuzz/fuzz_worker.ts): a clear ModelFileError or a model that predicts,
 * the same either way, CLI exit 0 or 2, nothing opened outside the model folder, nothing written
 * on failure, no tensor leaked, Object.prototype untouched, no hang. Concurrent savers and readers
 * are in io.concurrency.test.ts.
 */
import { fuzz, FuzzRun } from './fuzz/fuzz';

const SEED = 20261203;
const RUNS: FuzzRun[] = [
  { family: 'mutation', seed: SEED, cases: 200 },
  { family: 'layers', seed: SEED, cases: 120 },
  { family: 'shards', seed: SEED, cases: 80 },
  { family: 'paths', seed: SEED, cases: 80 },
];

it(`${RUNS.reduce((n, r) => n + r.cases, 0)} seeded cases: nothing the oracle objects to`, async () => {
  const reports = await fuzz(RUNS, 90_000);
  for (const r of reports) {
    expect({ family: r.family, problems: r.problems }).toEqual({ family: r.family, problems: [] });
    expect(r.ran).toBe(r.cases);
  }
  // Not vacuous: some cases load and some are refused.
  const total = (kind: string) => reports.reduce((n, r) => n + (r.verdicts[kind] ?? 0), 0);
  expect(total('loaded')).toBeGreaterThan(10);
  expect(total('refused')).toBeGreaterThan(100);
});
