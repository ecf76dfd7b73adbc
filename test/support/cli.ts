/**
 * The CLI run in-process, its output collected: what every CLI test calls.
 */
import { CliOutput, run } from '../../src/cli/run';

export interface CliResult { code: number; stdout: string; stderr: string }

/**
 * Runs `tfjs-batchnorm ...argv` and resolves to its exit code and what it wrote.
 *
 * Usage: `const { code, stdout } = await cli('fold', 'm/model.json', 'out');`
 */
export async function cli(...argv: string[]): Promise<CliResult> {
  return cliWith({}, ...argv);
}

/**
 * `cli` with the progress's pace and clock given (`{ progress: { everyMs, now } }`).
 *
 * Usage: `await cliWith({ progress: { now: fakeClock } }, 'verify', a, b);`
 */
export async function cliWith(options: Pick<CliOutput, 'progress'>, ...argv: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { ...options, stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; } });
  return { code, stdout, stderr };
}
