/**
 * `npm run fuzz [-- --seed N --cases N --rounds N]`: the long fuzz run. Every family with
 * --cases cases (default 1500) from --seed (default 1), then the concurrent save/load sweep over
 * --rounds rounds (default 20) of 5 savers and 2 readers. Prints what it ran and what it found;
 * exits 1 if anything was found.
 */
import { concurrencySweep } from './concurrency';
import { FAMILIES, fuzz } from './fuzz';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i < 0 ? fallback : Number(process.argv[i + 1]);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name}: expected a non-negative integer.`);
  return value;
}

async function main(): Promise<void> {
  const seed = option('seed', 1);
  const cases = option('cases', 1500);
  const rounds = option('rounds', 20);
  let problems = 0;
  const start = Date.now();
  const reports = await fuzz(FAMILIES.map((family) => ({ family, seed, cases })), Math.max(120_000, cases * 400));
  for (const r of reports) {
    process.stdout.write(`${r.family}: ${r.ran} of ${r.cases} cases from seed ${r.seed} in ${(r.ms / 1000).toFixed(1)} s, ` +
      `${JSON.stringify(r.verdicts)}; ${r.problems.length === 0 ? 'nothing found' : 'FOUND:'}\n`);
    for (const p of r.problems) process.stdout.write(`  ${p}\n`);
    problems += r.problems.length;
  }
  if (rounds > 0) {
    const t = Date.now();
    const sweep = await concurrencySweep({ rounds, savers: 5, readers: 2, savesPerRound: 3 });
    process.stdout.write(`concurrency: ${rounds} rounds of 5 savers (3 saves each) and 2 readers: ${sweep.saves} saves, ` +
      `${sweep.reads} reads in ${((Date.now() - t) / 1000).toFixed(1)} s; ` +
      `${sweep.problems.length === 0 ? 'no failed read, no lost save' : 'FOUND:'}\n`);
    for (const p of sweep.problems) process.stdout.write(`  ${p}\n`);
    problems += sweep.problems.length;
  }
  process.stdout.write(`${problems === 0 ? 'nothing found' : `${problems} problems`} in ${((Date.now() - start) / 1000).toFixed(0)} s\n`);
  process.exitCode = problems === 0 ? 0 : 1;
}

main().catch((e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exitCode = 2; });
