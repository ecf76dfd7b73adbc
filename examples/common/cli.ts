import { Command, InvalidArgumentError } from 'commander';

/** Options shared by every example: sizes of the run and where outputs go. */
export interface RunOptions {
  /** Passes over the training samples. */
  epochs: number;
  /** Training samples (MNIST digits or generated sequences). */
  samples: number;
  /** Held-out samples used for the test accuracy and the reload check. */
  testSamples: number;
  batchSize: number;
  /** Output folder: saved models, charts. */
  out: string;
  /** Seed of initializers and shuffles. */
  seed: number;
  /** Progress bars while training (false in tests and non-interactive logs). */
  bars: boolean;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/**
 * A commander program with the shared options (`--epochs`, `--samples`, `--test-samples`,
 * `--batch-size`, `--out`, `--seed`, `--no-bars`) and the given defaults.
 *
 * Usage: `const opts = runOptions(cli('example:mlp', 'MLP on MNIST', DEFAULTS).parse().opts());`
 */
export function cli(name: string, description: string, defaults: RunOptions): Command {
  return new Command(name)
    .description(description)
    .option('-e, --epochs <n>', 'training epochs', positiveInt, defaults.epochs)
    .option('-n, --samples <n>', 'training samples', positiveInt, defaults.samples)
    .option('-t, --test-samples <n>', 'test samples', positiveInt, defaults.testSamples)
    .option('-b, --batch-size <n>', 'batch size', positiveInt, defaults.batchSize)
    .option('-o, --out <dir>', 'output folder', defaults.out)
    .option('-s, --seed <n>', 'seed of initializers and shuffles', positiveInt, defaults.seed)
    .option('--no-bars', 'no progress bars (one line per epoch)');
}

/** The shared options out of a parsed program (commander stores them camel-cased). */
export function runOptions(program: Command): RunOptions {
  const o = program.opts();
  return {
    epochs: o.epochs, samples: o.samples, testSamples: o.testSamples, batchSize: o.batchSize,
    out: o.out, seed: o.seed, bars: o.bars !== false,
  };
}

/**
 * Runs an async main from the command line: prints the error and exits 1 on failure.
 *
 * Usage: `if (require.main === module) runCli(() => main(runOptions(program.parse())));`
 */
export function runCli(fn: () => Promise<unknown>): void {
  fn().catch((err) => {
    console.error(err instanceof Error ? err.stack ?? err.message : err);
    process.exit(1);
  });
}
