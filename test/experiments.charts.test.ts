/** The shared chart helper: vega-lite -> SVG (always) and PNG (resvg), with and without fonts. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { findFontFiles, pngSize, writeChart, ChartSpec } from '../experiments/common/charts';

let out: string;
beforeAll(() => { out = fs.mkdtempSync(path.join(os.tmpdir(), 'bn-charts-')); });
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

const spec: ChartSpec = {
  data: { values: [
    { x: 1, y: 2, series: 'alpha series' }, { x: 2, y: 3, series: 'alpha series' },
    { x: 1, y: 1, series: 'beta series' }, { x: 2, y: 0.5, series: 'beta series' },
  ] },
  mark: 'line',
  encoding: {
    x: { field: 'x', type: 'quantitative' },
    y: { field: 'y', type: 'quantitative' },
    color: { field: 'series', type: 'nominal' },
  },
};

test('writes a valid SVG with the series names and a PNG of the same aspect', async () => {
  const files = await writeChart(spec, path.join(out, 'chart'), { log: () => undefined });
  const svg = fs.readFileSync(files.svg, 'utf8');
  expect(svg.startsWith('<svg')).toBe(true);
  expect(svg.trim().endsWith('</svg>')).toBe(true);
  expect(svg).toContain('alpha series');
  expect(svg).toContain('beta series');
  // One line mark per series.
  expect((svg.match(/class="mark-line role-mark/g) ?? []).length).toBe(2);
  const [w, h] = [Number(svg.match(/width="(\d+)"/)![1]), Number(svg.match(/height="(\d+)"/)![1])];
  const size = pngSize(fs.readFileSync(files.png!));
  expect(size).not.toBeNull();
  // Rendered at 2x.
  expect(size!.width).toBe(2 * w);
  expect(size!.height).toBe(2 * h);
});

test('finds font files when the machine has some; none in an empty folder', () => {
  expect(findFontFiles([out])).toEqual([]);
  const found = findFontFiles();
  if (fs.existsSync('/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf')) {
    expect(found[0]).toMatch(/DejaVuSans\.ttf$/);
  }
});

test('without fonts: the SVG is still written, the PNG is skipped with a warning', async () => {
  const warnings: string[] = [];
  const files = await writeChart(spec, path.join(out, 'no-fonts'), { fonts: [], log: (l) => warnings.push(l) });
  expect(files.png).toBeNull();
  expect(fs.existsSync(path.join(out, 'no-fonts.png'))).toBe(false);
  expect(fs.readFileSync(files.svg, 'utf8')).toContain('beta series');
  expect(warnings.join('\n')).toMatch(/no font files found.*no-fonts\.svg/);
});

test('pngSize rejects bytes that are not a PNG', () => {
  expect(pngSize(Buffer.from('<svg></svg>'))).toBeNull();
});
