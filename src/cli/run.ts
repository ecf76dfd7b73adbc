/**
 * The `tfjs-batchnorm` command line: convert, fold, verify, inspect. `run(argv)` does everything
 * except exiting, so tests call it in-process; main.ts is the thin bin wrapper.
 *
 * Exit codes: 0 success, 1 verification mismatch, 2 bad usage or bad input (nothing written).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { convertNormalization, ConversionTarget } from '../convert/convert';
import { foldBatchNorm } from '../convert/fold';
import { timePredictions } from '../core/timing';
import { DEFAULT_MAX_MODEL_JSON_BYTES } from '../io/safe_read';
import { useBackend } from './backend';
import { copyCompanions, nothingToConvert, planCompanions } from './companions';
import { compareModels, inputShapes } from './compare';
import { formatInspect, inspectModel } from './inspect';
import { openModel, writeModel } from './models';
import { planOutput } from './output';
import { countLayerCalls, layersThatRun, Progress, ProgressOptions, ProgressOutput } from './progress';

export interface CliOutput extends ProgressOutput {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** The progress's pace and clock (tests); `--quiet` still turns it off. */
  progress?: Omit<ProgressOptions, 'quiet'>;
}

export const EXIT_OK = 0;
export const EXIT_MISMATCH = 1;
export const EXIT_USAGE = 2;

const defaultOutput: CliOutput = {
  stdout: (text) => { process.stdout.write(text); },
  stderr: (text) => { process.stderr.write(text); },
  terminal: process.stderr.isTTY ? process.stderr : undefined,
};

/** Largest `--runs`: more timed runs add nothing to a median but minutes of waiting. */
export const MAX_RUNS = 1000;
/** Largest `--batch`: enough for any timing; bigger batches only exhaust memory. */
export const MAX_BATCH = 1024;

function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `expected an integer >= ${min}.`
        : `expected an integer from ${min} to ${max}.`);
    }
    return n;
  };
}

function megabytes(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number of megabytes > 0.');
  return Math.floor(n * 1024 * 1024);
}

function nonNegative(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number >= 0.');
  return n;
}

function range(value: string): [number, number] {
  const parts = value.split(',').map(Number);
  if (parts.length !== 2 || !parts.every(Number.isFinite) || !(parts[0] < parts[1])) {
    throw new InvalidArgumentError('expected "min,max" with min < max, e.g. -1,1.');
  }
  return [parts[0], parts[1]];
}

const showPath = (path: string[]) => path.slice(1).join('/');

/** This package's version and tfjs's, for `--version`: package.json is found above this file in every build. */
function versionText(): string {
  let dir = __dirname;
  for (;;) {
    const file = path.join(dir, 'package.json');
    try {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
      if (pkg.name === 'tfjs-batchnorm') return `tfjs-batchnorm ${pkg.version} (@tensorflow/tfjs ${tf.version.tfjs})`;
    } catch {
      // no package.json at this level
    }
    if (path.dirname(dir) === dir) return `tfjs-batchnorm (@tensorflow/tfjs ${tf.version.tfjs})`;
    dir = path.dirname(dir);
  }
}

/** Options every command has. */
interface Common { backend: string; maxModelJsonMb: number; json?: boolean; quiet?: boolean }

function common(command: Command): Command {
  return command
    .addOption(new Option('--backend <name>', 'tfjs backend: cpu, or wasm / tensorflow when installed').default('cpu'))
    .addOption(new Option('--max-model-json-mb <n>', 'largest model.json to read, in MB')
      .default(DEFAULT_MAX_MODEL_JSON_BYTES, '64').argParser(megabytes))
    .option('--json', 'print the result as one JSON object on stdout')
    .option('--quiet', 'no progress on stderr (warnings and errors still go there)')
    .allowExcessArguments(false);
}

async function withBackend<T>(name: string, body: () => Promise<T>): Promise<T> {
  const previous = await useBackend(name);
  try {
    return await body();
  } finally {
    if (previous !== name) await tf.setBackend(previous);
  }
}

/**
 * The hint `fold` prints when the folded model ran slower than the original, or null.
 *
 * Usage: `const hint = foldSpeedHint(1050, 1465, 'cpu', 2);`
 */
export function foldSpeedHint(msBefore: number, msAfter: number, backend: string, batch: number): string | null {
  if (!(msAfter > msBefore * 1.05)) return null;
  return `hint: on ${backend} the folded model ran slower here (${msBefore.toFixed(1)} -> ${msAfter.toFixed(1)} ms per ` +
    `batch of ${batch}): tfjs adds a layer's bias with a separate broadcasting add, which can cost more than the fused ` +
    'BatchNormalization it replaces. Keep the original model for this backend, or measure another one ' +
    '(tfjs-batchnorm verify ORIGINAL FOLDED --backend wasm).';
}

/** Median ms per batch of `models` on one seeded batch, the progress advancing per layer run. */
async function timeModels(models: tf.LayersModel[], batch: number, runs: number, progress: Progress): Promise<number[]> {
  const inputs = inputShapes(models[0], batch).map((shape, i) => tf.randomUniform(shape, -1, 1, models[0].inputs[i].dtype, i));
  const layers = layersThatRun(models).length;
  progress.start(`timing the original and the folded model (batch ${batch})`, (runs + 1) * layers, 'layer runs');
  const restore = countLayerCalls(models, () => progress.tick());
  try {
    return await timePredictions(models, inputs, { runs });
  } finally {
    restore();
    progress.stop();
    tf.dispose(inputs);
  }
}

function buildProgram(out: CliOutput, setCode: (code: number) => void, wantsVersion = false): Command {
  const program = new Command('tfjs-batchnorm')
    .description('Convert, fold, verify and inspect TensorFlow.js layers models with normalization layers.')
    // package.json is read only when asked for: a command reads no file but its models.
    .version(wantsVersion ? versionText() : '', '-V, --version', 'print the version of tfjs-batchnorm and of tfjs')
    .exitOverride()
    .configureOutput({ writeOut: out.stdout, writeErr: out.stderr })
    .showHelpAfterError('(run with --help for usage)');
  const progressFor = (opts: Common) => new Progress(out, { ...out.progress, quiet: opts.quiet === true });
  const warn = (text: string) => out.stderr(`tfjs-batchnorm: warning: ${text}\n`);

  common(program.command('convert')
    .description('Swap every BatchNormalization and LayerNormalization layer (nested models included) between tfjs\'s built-in ' +
      '("stock") and this package\'s ("custom") class, keeping all weights.')
    .argument('<input>', 'model.json of the input model (tfjs or Keras-converter format), or a Keras .keras / .h5 file')
    .argument('<outDir>', 'new folder to write model.json + its weight shard into (crash-safe; other files kept), ' +
      'or a .keras file to write a Keras 3 archive')
    .addOption(new Option('--to <kind>', 'target class (required unless the output is .keras)').choices(['custom', 'stock']))
    .option('--force', 'write even into the input\'s folder or over an existing model')
    .addHelpText('after', '\nExample:\n  tfjs-batchnorm convert models/net/model.json models/net-custom --to custom'))
    .action(async (input: string, outDir: string, opts: Common & { to?: ConversionTarget; force?: boolean }) => {
      if (opts.to == null && !outDir.endsWith('.keras')) throw new Error("required option '--to <kind>' not specified");
      const progress = progressFor(opts);
      const plan = planOutput(input, outDir, opts.force === true);
      await withBackend(opts.backend, async () => {
        const model = await openModel(input, { maxModelJsonBytes: opts.maxModelJsonMb, progress });
        try {
          // A Keras archive holds Keras's own classes: there is no stock or custom class to choose.
          if (plan.kerasFile) {
            await writeModel(model, plan, progress);
            out.stdout(opts.json ? `${JSON.stringify({ command: 'convert', input, output: outDir, to: 'keras' })}\n`
              : `Wrote ${outDir} (a Keras 3 archive)\n`);
            return;
          }
          const to = opts.to as ConversionTarget; // present: checked above for every output but .keras
          const companions = planCompanions(input, outDir);
          const { model: converted, counts, warnings } = await progress.during('converting', () => convertNormalization(model, to));
          try {
            await writeModel(converted, plan, progress);
          } finally {
            converted.dispose();
          }
          const { copied, failed } = copyCompanions(companions, outDir);
          const total = counts.batchNormalization + counts.layerNormalization;
          if (opts.json) {
            out.stdout(`${JSON.stringify({ command: 'convert', input, output: outDir, to, converted: counts,
              copied, skipped: companions.skipped, notCopied: failed, warnings })}\n`);
          } else {
            const ln = counts.layerNormalization > 0 ? ` and ${counts.layerNormalization} LayerNormalization` : '';
            out.stdout(total === 0 ? nothingToConvert(model, to, outDir)
              : `Converted ${counts.batchNormalization} BatchNormalization${ln} layer(s) to ${to}; wrote ${outDir}/model.json\n`);
            if (copied.length > 0) out.stdout(`Copied ${copied.join(', ')} from beside the input model\n`);
          }
          reportCompanions(companions.skipped, failed, warn);
          for (const warning of warnings) warn(warning);
        } finally {
          model.dispose();
        }
      });
      setCode(EXIT_OK);
    });

  common(program.command('fold')
    .description('Fold each BatchNormalization that follows a linear Conv/Dense layer into that layer\'s ' +
      'kernel and bias; the rest of the model is unchanged. Unfoldable BNs are kept and listed. Then times both ' +
      'models on the backend and says when the folded one is slower.')
    .argument('<input>', 'model.json of the input model (tfjs or Keras-converter format), or a Keras .keras / .h5 file')
    .argument('<outDir>', 'new folder to write the folded model.json + its weight shard into (crash-safe; other files kept)')
    .option('--force', 'write even into the input\'s folder or over an existing model')
    .option('--no-timing', 'do not time the original and the folded model')
    .option('--batch <n>', `batch size for the timing (at most ${MAX_BATCH})`, integer(1, MAX_BATCH), 1)
    .option('--runs <n>', `timed runs per model, after one warm-up run (at most ${MAX_RUNS})`, integer(1, MAX_RUNS), 3)
    .addHelpText('after', '\nExample:\n  tfjs-batchnorm fold models/net/model.json models/net-folded'))
    .action(async (input: string, outDir: string, opts: Common & { force?: boolean; timing: boolean; batch: number; runs: number }) => {
      const progress = progressFor(opts);
      const plan = planOutput(input, outDir, opts.force === true);
      await withBackend(opts.backend, async () => {
        const model = await openModel(input, { maxModelJsonBytes: opts.maxModelJsonMb, progress });
        try {
          const companions = planCompanions(input, outDir);
          const { model: folded, folded: done, kept } = await progress.during('folding', () => foldBatchNorm(model));
          let times: number[] | null = null;
          try {
            await writeModel(folded, plan, progress);
            if (opts.timing && done.length > 0) times = await timeModels([model, folded], opts.batch, opts.runs, progress);
          } finally {
            folded.dispose();
          }
          const { copied, failed } = copyCompanions(companions, outDir);
          const hint = times != null ? foldSpeedHint(times[0], times[1], opts.backend, opts.batch) : null;
          if (opts.json) {
            out.stdout(`${JSON.stringify({ command: 'fold', input, output: outDir, folded: done.length, kept: kept.map((k) =>
              ({ layer: showPath(k.batchNorm), reason: k.reason })), copied, skipped: companions.skipped, notCopied: failed,
            timing: times != null ? { backend: opts.backend, batch: opts.batch, runs: opts.runs, msPerBatchOriginal: times[0],
              msPerBatchFolded: times[1] } : null, hint })}\n`);
          } else {
            out.stdout(`Folded ${done.length} of ${done.length + kept.length} BatchNormalization layer(s); wrote ${outDir}/model.json\n`);
            if (copied.length > 0) out.stdout(`Copied ${copied.join(', ')} from beside the input model\n`);
            for (const k of kept) out.stdout(`  kept ${showPath(k.batchNorm)}: ${k.reason}\n`);
            if (times != null) {
              out.stdout(`time per batch:   original ${times[0].toFixed(1)} ms, folded ${times[1].toFixed(1)} ms ` +
                `(${opts.backend}, batch ${opts.batch}, median of ${opts.runs})\n`);
            }
          }
          reportCompanions(companions.skipped, failed, warn);
          if (hint != null) out.stderr(`tfjs-batchnorm: ${hint}\n`);
        } finally {
          model.dispose();
        }
      });
      setCode(EXIT_OK);
    });

  common(program.command('verify')
    .description('Run both models on the same seeded random input and compare them: the logits where an output ' +
      'comes out of a final softmax or sigmoid (saturated outputs hide differences), or the layer named with --layer; ' +
      'print max absolute and relative differences per output and each model\'s time per batch. Exit 0 within --tol, 1 outside it.')
    .argument('<a>', 'model.json (or .keras / .h5 file) of the first model')
    .argument('<b>', 'model.json (or .keras / .h5 file) of the second model')
    .option('--batch <n>', `batch size (at most ${MAX_BATCH})`, integer(1, MAX_BATCH), 2)
    .option('--seed <s>', 'seed of the random input', integer(0), 0)
    .option('--tol <t>', 'largest allowed max absolute difference', nonNegative, 1e-4)
    .option('--range <min,max>', 'input value range (MobileNet-style images: -1,1)', range, [-1, 1] as [number, number])
    .option('--runs <n>', `timed runs per model, after one warm-up run (at most ${MAX_RUNS})`, integer(1, MAX_RUNS), 3)
    .option('--layer <name>', 'compare the output of this layer (same name in both models) instead')
    .addHelpText('after', '\nExample:\n  tfjs-batchnorm verify models/net/model.json models/net-folded/model.json --batch 2 --tol 1e-4'))
    .action(async (a: string, b: string, opts: Common & { batch: number; seed: number; tol: number; range: [number, number];
      runs: number; layer?: string }) => {
      const progress = progressFor(opts);
      const result = await withBackend(opts.backend, async () => {
        const ma = await openModel(a, { maxModelJsonBytes: opts.maxModelJsonMb, progress });
        let mb: tf.LayersModel;
        try {
          mb = await openModel(b, { maxModelJsonBytes: opts.maxModelJsonMb, progress });
        } catch (e) {
          ma.dispose();
          throw e;
        }
        const layers = layersThatRun([ma, mb]).length;
        progress.start(`comparing and timing (batch ${opts.batch}, ${opts.runs} run(s))`, (opts.runs + 1) * layers, 'layer runs');
        const restore = countLayerCalls([ma, mb], () => progress.tick());
        try {
          return await compareModels(ma, mb, opts);
        } finally {
          restore();
          progress.stop();
          ma.dispose();
          mb.dispose();
        }
      });
      const ok = result.maxAbsDiff <= opts.tol;
      if (opts.json) {
        out.stdout(`${JSON.stringify({ a, b, ...result, tol: opts.tol, backend: opts.backend, batch: opts.batch,
          seed: opts.seed, layer: opts.layer ?? null, ok })}\n`);
      } else {
        const row = (d: { name: string; maxAbsDiff: number; maxRelDiff: number }) =>
          `  ${d.name}: max abs diff ${d.maxAbsDiff.toExponential(3)}, max rel diff ${d.maxRelDiff.toExponential(3)}`;
        const outputsToo = result.compared.some((d) => !result.outputs.includes(d));
        out.stdout([
          `input:            ${JSON.stringify(result.inputShapes)} uniform in [${opts.range.join(', ')}], seed ${opts.seed}`,
          'compared (rel diff = abs diff / max |a|):',
          ...result.compared.map(row),
          ...(outputsToo ? ['outputs:', ...result.outputs.map(row)] : []),
          `max abs diff:     ${result.maxAbsDiff.toExponential(3)}`,
          `max rel diff:     ${result.maxRelDiff.toExponential(3)}`,
          `time per batch:   a ${result.msPerBatchA.toFixed(1)} ms, b ${result.msPerBatchB.toFixed(1)} ms ` +
            `(${opts.backend}, median of ${opts.runs})`,
          ok ? `OK: within tolerance ${opts.tol}` : `MISMATCH: max abs diff exceeds tolerance ${opts.tol}`,
        ].join('\n') + '\n');
      }
      for (const warning of result.warnings) warn(warning);
      setCode(ok ? EXIT_OK : EXIT_MISMATCH);
    });

  common(program.command('inspect')
    .description('Say what a model file holds: its format and what wrote it, inputs and outputs, layer classes, every ' +
      'normalization layer with its axis and whether fold folds it, and the size of its weights.')
    .argument('<model>', 'model.json (tfjs or Keras-converter format), or a Keras .keras / .h5 file')
    .addHelpText('after', '\nExample:\n  tfjs-batchnorm inspect models/net/model.json'))
    .action(async (file: string, opts: Common) => {
      const progress = progressFor(opts);
      const report = await withBackend(opts.backend, async () => {
        const model = await openModel(file, { maxModelJsonBytes: opts.maxModelJsonMb, progress });
        try {
          return await progress.during('inspecting', () => inspectModel(model, file));
        } finally {
          model.dispose();
        }
      });
      out.stdout(opts.json ? `${JSON.stringify(report)}\n` : formatInspect(report));
      setCode(EXIT_OK);
    });
  return program;
}

function reportCompanions(skipped: { name: string; reason: string }[], failed: string[], warn: (text: string) => void): void {
  for (const s of skipped) warn(`did not copy ${s.name} from beside the input model: ${s.reason}`);
  if (failed.length > 0) warn(`the model is written, but copying ${failed.join(', ')} from beside the input model failed`);
}

/**
 * Runs the CLI with `argv` (the arguments after the program name) and resolves to the exit code.
 * Output goes to `out` (process stdout/stderr by default); nothing calls process.exit.
 *
 * Usage: `const code = await run(['fold', 'm/model.json', 'm-folded']);`
 */
export async function run(argv: string[], out: CliOutput = defaultOutput): Promise<number> {
  let code = EXIT_OK;
  const program = buildProgram(out, (c) => { code = c; }, argv.includes('--version') || argv.includes('-V'));
  if (argv.length === 0) {
    out.stderr(program.helpInformation());
    return EXIT_USAGE;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; every other commander error is bad usage.
      return e.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    out.stderr(`tfjs-batchnorm: error: ${(e as Error).message}\n`);
    return EXIT_USAGE;
  }
}
