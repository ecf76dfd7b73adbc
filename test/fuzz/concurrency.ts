/**
 * The concurrent save/load sweep: `savers` processes save into one new folder per round while
 * `readers` processes load from it. Returns what went wrong: failed saves, failed or mixed reads,
 * leaked tensors, a final model that no saver wrote, and files the saves left behind.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { bundle, jsonLines, runChild } from './bundle';

export interface SweepOptions { rounds: number; savers: number; readers: number; savesPerRound: number }

export interface SweepResult {
  saves: number;
  reads: number;
  /** Reads per round that found a model, summed over readers. */
  problems: string[];
}

interface SaveLine { round: number; value: number; error: string | null }
interface ReadLine { round: number; values?: number[]; error?: string; leaked: number }

/**
 * Runs the sweep in a fresh temp folder (removed afterwards) and returns its counts and problems.
 *
 * Usage: `const { problems } = await concurrencySweep({ rounds: 3, savers: 5, readers: 2, savesPerRound: 3 });`
 */
export async function concurrencySweep(options: SweepOptions): Promise<SweepResult> {
  const script = bundle(path.join(__dirname, 'concurrency_worker.ts'));
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-bn-sweep-'));
  const problems: string[] = [];
  try {
    const timeout = 60_000 + options.rounds * 20_000;
    const readers = Array.from({ length: options.readers }, () => runChild(script, ['reader', root], timeout + 30_000));
    const savers = await Promise.all(Array.from({ length: options.savers }, (_, id) => runChild(script,
      ['saver', root, String(id), String(options.rounds), String(options.savesPerRound), String(options.savers)], timeout)));
    fs.writeFileSync(path.join(root, 'stop'), '');
    const readResults = await Promise.all(readers);
    for (const [i, r] of [...savers, ...readResults].entries()) {
      if (r.code !== 0 || r.stderr.trim() !== '') {
        problems.push(`child ${i} ended with code ${r.code}, signal ${r.signal}: ${r.stderr.slice(-500)}`);
      }
    }
    const saves = savers.flatMap((r) => jsonLines<SaveLine>(r.stdout));
    const reads = readResults.flatMap((r) => jsonLines<ReadLine>(r.stdout));
    const expectedSaves = options.rounds * options.savers * options.savesPerRound;
    if (saves.length !== expectedSaves) problems.push(`${saves.length} saves reported, expected ${expectedSaves}`);
    for (const s of saves) if (s.error != null) problems.push(`round ${s.round}: save of ${s.value} failed: ${s.error}`);
    const saved = new Set(saves.filter((s) => s.error == null).map((s) => `${s.round}:${s.value}`));
    for (const r of reads) {
      if (r.error != null) problems.push(`round ${r.round}: a read failed: ${r.error}`);
      else if (r.values?.length !== 1 || !saved.has(`${r.round}:${r.values[0]}`)) {
        problems.push(`round ${r.round}: a read returned weights ${JSON.stringify(r.values)}, not one model a saver wrote`);
      }
      if (r.leaked !== 0) problems.push(`round ${r.round}: a reader holds ${r.leaked} leaked tensors`);
    }
    for (let round = 0; round < options.rounds; round++) {
      const dir = path.join(root, `round-${round}`);
      const names = fs.readdirSync(dir).sort();
      const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
      const shard: string = json.weightsManifest[0].paths[0];
      const data = new Float32Array(new Uint8Array(fs.readFileSync(path.join(dir, shard))).buffer);
      if (!saved.has(`${round}:${data[0]}`) || data.some((v) => v !== data[0])) {
        problems.push(`round ${round}: the final model (${data[0]}) is not one a saver wrote`);
      }
      // The model, the journal, its shard and the previous model's: nothing else.
      const extra = names.filter((n) => !['model.json', '.tfjs-batchnorm-save-journal.json', shard].includes(n));
      if (extra.length > 1 || extra.some((n) => !/^weights(-[0-9a-f]{16})?\.bin$/.test(n))) {
        problems.push(`round ${round}: the folder holds ${JSON.stringify(names)}`);
      }
    }
    return { saves: saves.length, reads: reads.length, problems };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(path.dirname(script), { recursive: true, force: true });
  }
}
