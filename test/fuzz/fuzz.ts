/**
 * Runs fuzz_worker.ts in child processes and collects what they found. A child that outlives its
 * time limit is killed, and the case it had started is reported as a hang.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { bundle, runChild } from './bundle';

export const FAMILIES = ['mutation', 'shards', 'paths', 'layers'] as const;
export type Family = typeof FAMILIES[number];

export interface FuzzRun { family: Family; seed: number; cases: number }

export interface FuzzReport extends FuzzRun {
  /** Cases that ran to the end. */
  ran: number;
  /** How the cases ended: 'loaded', 'refused'. */
  verdicts: Record<string, number>;
  /** What went wrong, with the case and the seed to reproduce it; empty when nothing did. */
  problems: string[];
  ms: number;
}

interface Line {
  start?: number; case?: string; done?: number;
  result?: { failed: boolean; numRuns: number; seed: number; path?: string; error: string | null; counterexample: string | null;
    verdicts: Record<string, number> };
}

/**
 * Runs each of `runs` in a child of its own (at most `parallel` at a time), each limited to
 * `timeoutMs`; resolves to one report per run.
 *
 * Usage: `const reports = await fuzz([{ family: 'mutation', seed: 1, cases: 100 }], 60_000);`
 */
export async function fuzz(runs: FuzzRun[], timeoutMs: number, parallel = 2): Promise<FuzzReport[]> {
  const script = bundle(path.join(__dirname, 'fuzz_worker.ts'));
  const reports: FuzzReport[] = [];
  try {
    const queue = [...runs];
    const worker = async () => {
      for (let r = queue.shift(); r != null; r = queue.shift()) reports.push(await one(script, r, timeoutMs));
    };
    await Promise.all(Array.from({ length: parallel }, worker));
  } finally {
    fs.rmSync(path.dirname(script), { recursive: true, force: true });
  }
  return runs.map((r) => reports.find((x) => x.family === r.family && x.seed === r.seed)!);
}

async function one(script: string, r: FuzzRun, timeoutMs: number): Promise<FuzzReport> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `tfjs-bn-fuzz-${r.family}-`));
  try {
    const child = await runChild(script, [work, r.family, String(r.seed), String(r.cases)], timeoutMs,
      { nodeArgs: ['--max-old-space-size=1024'] });
    const lines = child.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
    const result = lines.find((l) => l.result != null)?.result;
    const problems: string[] = [];
    const reproduce = `(reproduce: family ${r.family}, seed ${r.seed})`;
    if (result == null) {
      const started = lines.filter((l) => l.start != null);
      const last = started[started.length - 1];
      const finished = last != null && lines.some((l) => l.done === last.start);
      problems.push(child.signal === 'SIGKILL' && last != null && !finished
        ? `case ${last.start} hung (killed after ${timeoutMs} ms): ${last.case} ${reproduce}`
        : `the child ended with code ${child.code}, signal ${child.signal} after ${started.length} cases: ` +
          `${child.stderr.slice(-1500)} ${reproduce}`);
    } else if (result.failed) {
      problems.push(`${result.error} in ${result.counterexample} ${reproduce}, path ${result.path}`);
    }
    // stderr holds tfjs's warnings (a redundant output list, say): only a crash's is a finding.
    // The last case's folder stays for a look when something was found.
    if (problems.length > 0) problems.push(`the last case's files: ${path.join(work, 'case')}`);
    else fs.rmSync(work, { recursive: true, force: true });
    return { ...r, ran: lines.filter((l) => l.done != null).length, verdicts: result?.verdicts ?? {}, problems, ms: child.ms };
  } catch (e) {
    fs.rmSync(work, { recursive: true, force: true });
    throw e;
  }
}
