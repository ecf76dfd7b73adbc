/** The machine a benchmark ran on, printed with its results. */
import * as fs from 'fs';
import * as os from 'os';
import * as tf from '@tensorflow/tfjs';

/**
 * The machine, for the record: CPU model, cores, Node, load average (other work on the machine
 * inflates absolute times; ratios are measured side by side).
 *
 * Usage: `console.log(machine().line)`
 */
export function machine() {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const info = {
    date: new Date().toISOString(), cpu: model, cores: os.availableParallelism?.() ?? os.cpus().length,
    node: process.version, tfjs: tf.version.tfjs, platform: `${os.platform()} ${os.arch()}`,
    loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
  };
  const line = `${info.date} | ${info.cpu}, ${info.cores} cores | Node ${info.node} | tfjs ${info.tfjs} | `
    + `${info.platform} | load average ${info.loadAverage.join(' ')}`;
  return { ...info, line };
}
