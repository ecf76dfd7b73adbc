import { Command, InvalidArgumentError } from 'commander';
import { cli, RunOptions } from '../../examples/common/cli';
import { loadMnist, MnistData, MnistLayout } from '../../examples/common/data';
import { ChartSpec } from './charts';

/** Options of every experiment: the shared run options plus how many seeds to repeat it with. */
export interface ExperimentOptions extends RunOptions {
  /** Repetitions with seeds `seed`, `seed + 1`, ...; every reported number is summarized over them. */
  seeds: number;
}

/** What `main` of an experiment accepts: any option, plus `quick` for tiny settings (tests). */
export type ExperimentInput<Extra = object> = Partial<ExperimentOptions> & Partial<Extra> & { quick?: boolean };

/**
 * The options of one run: the experiment's defaults, then its quick settings if asked for, then
 * whatever the caller set explicitly.
 *
 * Usage: `const opts = resolveOptions(DEFAULTS, QUICK, options);`
 */
export function resolveOptions<T extends ExperimentOptions>(defaults: T, quick: Partial<T>, options: Partial<T> & { quick?: boolean }): T {
  const { quick: isQuick, ...given } = options;
  const set = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as Partial<T>;
  return { ...defaults, ...(isQuick ? quick : {}), ...set };
}

/** The random seeds of a run: `seed`, `seed + 1`, ..., `seeds` of them. */
export function seedList(opts: Pick<ExperimentOptions, 'seed' | 'seeds'>): number[] {
  return Array.from({ length: opts.seeds }, (_, i) => opts.seed + i);
}

/**
 * Runs `run` once per seed of the run (see `seedList`), each time with that seed's MNIST subset
 * (`samples` training and `testSamples` test digits, shuffled by that random seed), and disposes the data
 * afterwards, also when `run` throws. Seeds run one after the other, so their tensors never
 * coexist.
 *
 * Usage: `await forEachSeed(opts, async (seed, data) => { rows.push(await trainOnce(seed, data)); });`
 */
export async function forEachSeed(opts: Pick<ExperimentOptions, 'seed' | 'seeds' | 'samples' | 'testSamples'>,
  run: (seed: number, data: MnistData) => Promise<void> | void, layout: MnistLayout = 'flat'): Promise<void> {
  for (const seed of seedList(opts)) {
    const data = loadMnist({ trainSamples: opts.samples, testSamples: opts.testSamples, seed, layout });
    try {
      await run(seed, data);
    } finally {
      data.dispose();
    }
  }
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/**
 * A commander program with the shared run options, `--seeds <n>` and `--quick` (tiny settings,
 * seconds). `experimentOptions` reads back only what was given on the command line, so the
 * experiment's own defaults (or quick settings) fill the rest.
 *
 * Usage: `const program = experimentCli('npm run experiment:init --', 'Init scales', DEFAULTS);`
 */
export function experimentCli(name: string, description: string, defaults: ExperimentOptions): Command {
  return cli(name, description, defaults)
    .option('--seeds <n>', 'number of seeds (each number is summarized over them)', positiveInt, defaults.seeds)
    .option('--quick', 'tiny settings that finish in seconds (for tests)', false);
}

/**
 * The options set on the command line (`--quick` included), for `main`.
 *
 * Usage: `runCli(() => main(experimentOptions(program.parse())));`
 */
export function experimentOptions<Extra = object>(program: Command): ExperimentInput<Extra> {
  const o = program.opts();
  const given: Record<string, unknown> = {};
  for (const key of Object.keys(o)) if (program.getOptionValueSource(key) === 'cli') given[key] = o[key];
  // --no-bars is stored as `bars`.
  return { ...given, quick: o.quick === true } as ExperimentInput<Extra>;
}

/** Mean, sample standard deviation, minimum and maximum of one measurement over seeds. */
export interface Spread {
  mean: number;
  sd: number;
  min: number;
  max: number;
  n: number;
}

/**
 * Summary of values over seeds (sd is 0 for a single value; non-finite values make every field NaN,
 * so a diverged run is never averaged away silently).
 *
 * Usage: `const s = spread([0.91, 0.93, 0.92]); // { mean: 0.92, sd: 0.01, ... }`
 */
export function spread(values: number[]): Spread {
  const n = values.length;
  if (n === 0 || values.some((v) => !Number.isFinite(v))) return { mean: NaN, sd: NaN, min: NaN, max: NaN, n };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, sd, min: Math.min(...values), max: Math.max(...values), n };
}

/** Rounds to `digits` decimals, or to 3 significant digits in exponent form for tiny/huge values. */
export function formatNumber(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  if (x !== 0 && (Math.abs(x) < 10 ** -digits || Math.abs(x) >= 1e5)) return x.toExponential(2);
  return x.toFixed(digits);
}

/**
 * "mean ± sd (min–max)" for tables.
 *
 * Usage: `formatSpread(spread([0.91, 0.93]))  // '0.920 ± 0.014 (0.910–0.930)'`
 */
export function formatSpread(s: Spread, digits = 3): string {
  if (!Number.isFinite(s.mean)) return 'not finite in some seed';
  return `${formatNumber(s.mean, digits)} ± ${formatNumber(s.sd, digits)} (${formatNumber(s.min, digits)}–${formatNumber(s.max, digits)})`;
}

/** One point of a spread chart: the values of one series at one x, one per seed. */
export interface SpreadPoint {
  series: string;
  x: number | string;
  values: number[];
  /** Facet column (small multiples with independent y scales). */
  panel?: string;
}

export interface SpreadChartOptions {
  /** The finding, in words. */
  title: string;
  subtitle?: string | string[];
  points: SpreadPoint[];
  xTitle: string;
  /** Title of the y axis (with units); panels have their own. */
  yTitle?: string;
  /** 'log' (base 10), 'log2', 'linear' or 'ordinal' (categories in the given order). */
  xScale?: 'log' | 'log2' | 'linear' | 'ordinal';
  yLog?: boolean;
  /** Color per series (legend order = domain order). */
  colors: { domain: string[]; range: string[] };
  /** Side-by-side panels, each with its own y axis (points name theirs in `panel`). */
  panels?: Array<{ name: string; yTitle: string; yLog?: boolean }>;
  /** Values clipped into [lo, hi] before plotting (e.g. a diverged loss), said in the subtitle by the caller. */
  clip?: [number, number];
  /** The x values to label (default: those of `points`). */
  xValues?: Array<number | string>;
  /** What the spread is over, for the subtitle (default 'seeds'). */
  spreadOver?: string;
  /** Draw points only (no connecting line), e.g. for categories. */
  noLine?: boolean;
  width?: number;
  height?: number;
}

/**
 * A vega-lite chart of measurements over seeds: per series, the mean as a line with points and
 * the min–max range over seeds as a vertical bar, colored by series with a legend entry each.
 * Its subtitle ends with how many seeds were run and what the bars mean.
 *
 * Usage: `writeChart(spreadChart({ title: 'BN trains at every scale', points, xTitle: 'scale', yTitle: 'accuracy', colors }), file)`
 */
export function spreadChart(o: SpreadChartOptions): ChartSpec {
  const clip = (v: number) => (o.clip ? Math.min(o.clip[1], Math.max(o.clip[0], Number.isFinite(v) ? v : o.clip[1])) : v);
  const seeds = Math.max(0, ...o.points.map((p) => p.values.length));
  const values = o.points.map((p) => {
    const s = spread(p.values.map(clip));
    return { series: p.series, x: p.x, panel: p.panel ?? '', mean: s.mean, lo: s.min, hi: s.max };
  });
  const subtitle = [...(o.subtitle == null ? [] : Array.isArray(o.subtitle) ? o.subtitle : [o.subtitle]),
    o.spreadOver ? `line and points: mean over ${o.spreadOver}; vertical bars: min–max over ${o.spreadOver}`
      : `line and points: mean over ${seeds} seed${seeds === 1 ? '' : 's'}; vertical bars: min–max over seeds`];
  const xType = o.xScale === 'ordinal' ? 'ordinal' as const : 'quantitative' as const;
  const xDomain = o.xValues ?? Array.from(new Set(o.points.map((p) => p.x)));
  const x = {
    field: 'x', type: xType, title: o.xTitle,
    ...(o.xScale === 'log' ? { scale: { type: 'log' as const } } : {}),
    ...(o.xScale === 'log2' ? { scale: { type: 'log' as const, base: 2 }, axis: { values: xDomain as number[] } } : {}),
    // Steps, epochs, layers: whole numbers, axis from the first value.
    ...(o.xScale === 'linear' ? { scale: { zero: false }, ...(xDomain.length <= 25 && xDomain.every((v) => Number.isInteger(v)) ? { axis: { values: xDomain as number[], format: 'd' } } : {}) } : {}),
    // Categories that are also the series: the legend names them, so the axis shows no labels.
    ...(o.xScale === 'ordinal' ? { sort: xDomain as string[], axis: o.noLine ? { labels: false, ticks: false } : { labelAngle: 0 } } : {}),
  };
  const color = { field: 'series', type: 'nominal' as const, title: null, scale: o.colors, sort: o.colors.domain };
  const layers = (yTitle: string, yLog: boolean) => {
    const y = { type: 'quantitative' as const, title: yTitle, scale: yLog ? { type: 'log' as const } : { zero: false } };
    return [
      { mark: { type: 'rule' as const, strokeWidth: 2, opacity: 0.6 }, encoding: { x, y: { ...y, field: 'lo' }, y2: { field: 'hi' }, color } },
      { mark: o.noLine ? { type: 'point' as const, filled: true, size: 60 } : { type: 'line' as const, point: true }, encoding: { x, y: { ...y, field: 'mean' }, color } },
    ];
  };
  const size = { width: o.width ?? 300, height: o.height ?? 240 };
  const config = { legend: { orient: 'bottom' as const, direction: 'vertical' as const, columns: 2, labelLimit: 400 } };
  const title = { text: o.title, subtitle, anchor: 'start' as const };
  const schema = 'https://vega.github.io/schema/vega-lite/v5.json';
  if (o.panels && o.panels.length > 0) {
    return {
      $schema: schema, title, data: { values },
      hconcat: o.panels.map((p) => ({
        // Each panel is named by its y-axis title (no panel headers: less height, nothing to misalign).
        ...size, transform: [{ filter: { field: 'panel', equal: p.name } }], layer: layers(p.yTitle, p.yLog ?? false),
      })),
      resolve: { scale: { color: 'shared' } },
      config,
    } as ChartSpec;
  }
  return { $schema: schema, title, data: { values }, ...size, layer: layers(o.yTitle ?? '', o.yLog ?? false), config } as ChartSpec;
}

/** A fixed palette for series beyond the network colors (tableau 10). */
export const PALETTE = ['#4c78a8', '#e45756', '#54a24b', '#f58518', '#b279a2', '#72b7b2', '#eeca3b', '#9d755d', '#ff9da6', '#bab0ac'];

/**
 * Colors for series: the given ones first, then the palette.
 *
 * Usage: `colors: seriesColors(['with BN', 'without BN'], { 'with BN': '#4c78a8' })`
 */
export function seriesColors(series: string[], fixed: Record<string, string> = {}): { domain: string[]; range: string[] } {
  const free = PALETTE.filter((c) => !Object.values(fixed).includes(c));
  let k = 0;
  return { domain: series, range: series.map((s) => fixed[s] ?? free[k++ % free.length]) };
}
