/**
 * The `tfjs-batchnorm` command line: convert, fold, verify. `run(argv)` does everything except
 * exiting, so tests call it in-process; main.ts is the thin bin wrapper.
 *
 * Exit codes: 0 success, 1 verification mismatch, 2 bad usage or bad input.
 */
import * as tf from '@tensorflow/tfjs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { convertNormalization, ConversionTarget } from '../convert/convert';
import { foldBatchNorm } from '../convert/fold';
import { loadModel, saveModel } from '../io/load_save';
import { saveKerasModel } from '../io/keras3/node';
import { DEFAULT_MAX_MODEL_JSON_BYTES } from '../io/safe_read';
import { useBackend } from './backend';
import { carryCompanionFiles, nothingToConvert } from './companions';
import { compareModels } from './compare';

export interface CliOutput {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export const EXIT_OK = 0;
export const EXIT_MISMATCH = 1;
export const EXIT_USAGE = 2;

const defaultOutput: CliOutput = {
  stdout: (text) => { process.stdout.write(text); },
  stderr: (text) => { process.stderr.write(text); },
};

/** Largest `verify --runs`: more timed runs add nothing to a median but minutes of waiting. */
export const MAX_RUNS = 1000;
/** Largest `verify --batch`: enough for any timing; bigger batches only exhaust memory. */
export const MAX_BATCH = 1024;
/** Seconds of silence before a slow step says what it is doing. */
const NOTICE_AFTER_MS = 2000;

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

/**
 * Runs `body`; while it runs longer than `everyMs` (2 s), says on stderr what is going on every
 * `everyMs`, so a long load, save or timing run is never silent.
 *
 * Usage: `const model = await announceIfSlow(out, 'loading m/model.json', () => loadModel('m/model.json'));`
 */
export async function announceIfSlow<T>(out: CliOutput, what: string, body: () => Promise<T>,
  everyMs = NOTICE_AFTER_MS): Promise<T> {
  const start = Date.now();
  const timer = setInterval(() => {
    out.stderr(`tfjs-batchnorm: ${what} (${((Date.now() - start) / 1000).toFixed(1)} s)...\n`);
  }, everyMs);
  try {
    return await body();
  } finally {
    clearInterval(timer);
  }
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

function backendOption(): Option {
  return new Option('--backend <name>', 'tfjs backend: cpu, or wasm / tensorflow when installed').default('cpu');
}

function maxJsonOption(): Option {
  return new Option('--max-model-json-mb <n>', 'largest model.json to read, in MB').default(DEFAULT_MAX_MODEL_JSON_BYTES, '64')
    .argParser(megabytes);
}

function load(out: CliOutput, file: string, maxModelJsonBytes: number): Promise<tf.LayersModel> {
  return announceIfSlow(out, `loading ${file}`, () => loadModel(file, { maxModelJsonBytes }));
}

async function withBackend<T>(name: string, body: () => Promise<T>): Promise<T> {
  const previous = await useBackend(name);
  try {
    return await body();
  } finally {
    if (previous !== name) await tf.setBackend(previous);
  }
}

function buildProgram(out: CliOutput, setCode: (code: number) => void): Command {
  const program = new Command('tfjs-batchnorm')
    .description('Convert, fold and verify TensorFlow.js layers models with BatchNormalization.')
    .exitOverride()
    .configureOutput({ writeOut: out.stdout, writeErr: out.stderr })
    .showHelpAfterError('(run with --help for usage)');

  program.command('convert')
    .description('Swap every BatchNormalization and LayerNormalization layer (nested models included) between tfjs\'s built-in ' +
      '("stock") and this package\'s ("custom") class, keeping all weights.')
    .argument('<input>', 'model.json of the input model (tfjs or Keras-converter format), or a Keras .keras / .h5 file')
    .argument('<outDir>', 'directory to write model.json + its weight shard into (crash-safe; other files kept), ' +
      'or a .keras file to write a Keras 3 archive')
    .addOption(new Option('--to <kind>', 'target class (required unless the output is .keras)').choices(['custom', 'stock']))
    .addOption(backendOption())
    .addOption(maxJsonOption())
    .allowExcessArguments(false)
    .addHelpText('after', '\nExample:\n  tfjs-batchnorm convert models/net/model.json models/net-custom --to custom')
    .action(async (input: string, outDir: string, opts: { to?: ConversionTarget; backend: string; maxModelJsonMb: number }) => {
      if (opts.to == null && !outDir.endsWith('.keras')) throw new Error("required option '--to <kind>' not specified");
      await withBackend(opts.backend, async () => {
        const model = await load(out, input, opts.maxModelJsonMb);
        try {
          // A Keras archive holds Keras's own classes: there is no stock or custom class to choose.
          if (outDir.endsWith('.keras')) {
            await announceIfSlow(out, `saving ${outDir}`, () => saveKerasModel(model, outDir));
            out.stdout(`Wrote ${outDir} (a Keras 3 archive)\n`);
            return;
          }
          const to = opts.to as ConversionTarget; // present: checked above for every output but .keras
          const { model: converted, counts, warnings } = await convertNormalization(model, to);
          try {
            await announceIfSlow(out, `saving ${outDir}`, () => saveModel(converted, outDir));
          } finally {
            converted.dispose();
          }
          const carried = carryCompanionFiles(input, outDir);
          const ln = counts.layerNormalization > 0 ? ` and ${counts.layerNormalization} LayerNormalization` : '';
          out.stdout(counts.batchNormalization + counts.layerNormalization === 0 ? nothingToConvert(model, to, outDir)
            : `Converted ${counts.batchNormalization} BatchNormalization${ln} layer(s) to ${to}; ` +
              `wrote ${outDir}/model.json\n`);
          if (carried.length > 0) out.stdout(`Copied ${carried.join(', ')} from beside the input model\n`);
          for (const warning of warnings) out.stderr(`tfjs-batchnorm: warning: ${warning}\n`);
        } finally {
          model.dispose();
        }
      });
      setCode(EXIT_OK);
    });

  program.command('fold')
    .description('Fold each BatchNormalization that follows a linear Conv/Dense layer into that layer\'s ' +
      'kernel and bias; the rest of the model is unchanged. Unfoldable BNs are kept and listed.')
    .argument('<input>', 'model.json of the input model (tfjs or Keras-converter format)')
    .argument('<outDir>', 'directory to write the folded model.json + its weight shard into (crash-safe; other files kept)')
    .addOption(backendOption())
    .addOption(maxJsonOption())
    .allowExcessArguments(false)
    .addHelpText('after', '\nExample:\n  tfjs-batchnorm fold models/net/model.json models/net-folded')
    .action(async (input: string, outDir: string, opts: { backend: string; maxModelJsonMb: number }) => {
      await withBackend(opts.backend, async () => {
        const model = await load(out, input, opts.maxModelJsonMb);
        try {
          const { model: folded, folded: done, kept } = await foldBatchNorm(model);
          try {
            await announceIfSlow(out, `saving ${outDir}`, () => saveModel(folded, outDir));
          } finally {
            folded.dispose();
          }
          const carried = carryCompanionFiles(input, outDir);
          out.stdout(`Folded ${done.length} of ${done.length + kept.length} BatchNormalization layer(s); ` +
            `wrote ${outDir}/model.json\n`);
          if (carried.length > 0) out.stdout(`Copied ${carried.join(', ')} from beside the input model\n`);
          for (const k of kept) out.stdout(`  kept ${showPath(k.batchNorm)}: ${k.reason}\n`);
        } finally {
          model.dispose();
        }
      });
      setCode(EXIT_OK);
    });

  program.command('verify')
    .description('Run both models on the same seeded random input; print the max absolute and relative ' +
      'output difference and each model\'s time per batch. Exit 0 within --tol, 1 outside it.')
    .argument('<a>', 'model.json (or .keras / .h5 file) of the first model')
    .argument('<b>', 'model.json (or .keras / .h5 file) of the second model')
    .option('--batch <n>', `batch size (at most ${MAX_BATCH})`, integer(1, MAX_BATCH), 2)
    .option('--seed <s>', 'seed of the random input', integer(0), 0)
    .option('--tol <t>', 'largest allowed max absolute difference', nonNegative, 1e-4)
    .option('--range <min,max>', 'input value range (MobileNet-style images: -1,1)', range, [-1, 1] as [number, number])
    .option('--runs <n>', `timed runs per model, after one warm-up run (at most ${MAX_RUNS})`, integer(1, MAX_RUNS), 3)
    .option('--json', 'print the result as JSON')
    .addOption(backendOption())
    .addOption(maxJsonOption())
    .allowExcessArguments(false)
    .addHelpText('after', '\nExample:\n  tfjs-batchnorm verify models/net/model.json models/net-folded/model.json --batch 2 --tol 1e-4')
    .action(async (a: string, b: string, opts: { batch: number; seed: number; tol: number; range: [number, number];
      runs: number; json?: boolean; backend: string; maxModelJsonMb: number }) => {
      const result = await withBackend(opts.backend, async () => {
        const ma = await load(out, a, opts.maxModelJsonMb);
        let mb: tf.LayersModel;
        try {
          mb = await load(out, b, opts.maxModelJsonMb);
        } catch (e) {
          ma.dispose();
          throw e;
        }
        try {
          return await announceIfSlow(out, `comparing the models and timing ${opts.runs} run(s) of batch ${opts.batch}`,
            () => compareModels(ma, mb, opts));
        } finally {
          ma.dispose();
          mb.dispose();
        }
      });
      // A NaN difference is a mismatch, not a pass.
      const ok = result.maxAbsDiff <= opts.tol;
      if (opts.json) {
        out.stdout(`${JSON.stringify({ a, b, ...result, tol: opts.tol, backend: opts.backend, batch: opts.batch,
          seed: opts.seed, ok })}\n`);
      } else {
        out.stdout([
          `input:            ${JSON.stringify(result.inputShapes)} uniform in [${opts.range.join(', ')}], seed ${opts.seed}`,
          `max abs diff:     ${result.maxAbsDiff.toExponential(3)}`,
          `max rel diff:     ${result.maxRelDiff.toExponential(3)} (abs diff / max |a|)`,
          `time per batch:   a ${result.msPerBatchA.toFixed(1)} ms, b ${result.msPerBatchB.toFixed(1)} ms ` +
            `(${opts.backend}, median of ${opts.runs})`,
          ok ? `OK: within tolerance ${opts.tol}` : `MISMATCH: max abs diff exceeds tolerance ${opts.tol}`,
        ].join('\n') + '\n');
      }
      setCode(ok ? EXIT_OK : EXIT_MISMATCH);
    });
  return program;
}

/**
 * Runs the CLI with `argv` (the arguments after the program name) and resolves to the exit code.
 * Output goes to `out` (process stdout/stderr by default); nothing calls process.exit.
 *
 * Usage: `const code = await run(['fold', 'm/model.json', 'm-folded']);`
 */
export async function run(argv: string[], out: CliOutput = defaultOutput): Promise<number> {
  let code = EXIT_OK;
  const program = buildProgram(out, (c) => { code = c; });
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
