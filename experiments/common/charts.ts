import * as fs from 'fs';
import * as path from 'path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import * as vl from 'vega-lite';

/** A vega-lite spec (the chart's data inline in `data.values`). */
export type ChartSpec = vl.TopLevelSpec;

export interface ChartFiles {
  svg: string;
  /** null when no fonts were found or rendering failed (the SVG is always complete). */
  png: string | null;
  /** Font files handed to the PNG renderer; empty means no PNG was written (open the SVG). */
  fonts: string[];
}

/** Font family the charts ask for; the PNG renderer is given matching files when it can find them. */
const FONT = 'DejaVu Sans';

/** Folders where systems usually keep fonts (Linux, macOS, Windows). */
const FONT_DIRS = [
  '/usr/share/fonts', '/usr/local/share/fonts', path.join(process.env.HOME ?? '', '.fonts'),
  '/Library/Fonts', '/System/Library/Fonts', 'C:\\Windows\\Fonts',
];

/**
 * TrueType/OpenType files found in the usual font folders (depth-limited), DejaVu Sans first.
 * resvg draws no text without fonts, and a CI machine may have none.
 *
 * Usage: `const files = findFontFiles();`
 */
export function findFontFiles(dirs: string[] = FONT_DIRS, limit = 200): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 4 || found.length >= limit) return;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p, depth + 1);
      else if (/\.(ttf|otf)$/i.test(e.name)) found.push(p);
    }
  };
  dirs.forEach((d) => walk(d, 0));
  const rank = (f: string) => (/DejaVuSans\.ttf$/i.test(f) ? 0 : /DejaVuSans/i.test(f) ? 1 : 2);
  return found.sort((a, b) => rank(a) - rank(b));
}

let fontCache: string[] | null = null;

export interface ChartOptions {
  /** Where warnings go (default console.log). */
  log?: (line: string) => void;
  /** Font files for the PNG (default: `findFontFiles()`, searched once). */
  fonts?: string[];
}

/**
 * Renders a vega-lite spec to `<file>.svg` (vega's SVG renderer, no canvas needed) and
 * `<file>.png` (resvg, 2x), and keeps the spec with its data in `<file>.vl.json`. The SVG's text is drawn by whatever opens it; the PNG needs font
 * files, and resvg silently drops text without them, so with no fonts found the PNG is skipped
 * (a chart without axis labels would mislead) and a warning points to the SVG.
 *
 * Usage: `const files = await writeChart(spec, 'models/experiments/lr-sweep');`
 */
export async function writeChart(spec: ChartSpec, file: string, options: ChartOptions = {}): Promise<ChartFiles> {
  const log = options.log ?? ((line: string) => console.log(line));
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const withFont = {
    ...spec,
    config: { font: `${FONT}, Helvetica, Arial, sans-serif`, background: 'white', ...(spec.config ?? {}) },
  } as ChartSpec;
  // The spec with its data, so a chart can be redrawn (or checked) without rerunning the experiment.
  fs.writeFileSync(path.resolve(`${file}.vl.json`), JSON.stringify(spec, null, 1));
  const view = new vega.View(vega.parse(vl.compile(withFont).spec), { renderer: 'none' });
  let svg = await view.toSVG();
  view.finalize();
  const svgPath = path.resolve(`${file}.svg`);

  const fonts = options.fonts ?? (fontCache ??= findFontFiles());
  if (fonts.length === 0) {
    fs.writeFileSync(svgPath, svg);
    log(`warning: no font files found, so no PNG (its text would be missing); open ${svgPath}.`);
    return { svg: svgPath, png: null, fonts };
  }
  const pngPath = path.resolve(`${file}.png`);
  // Explicit files: resvg's own system-font lookup is not reliable across machines.
  const font = { fontFiles: fonts.slice(0, 50), loadSystemFonts: false, defaultFontFamily: FONT, sansSerifFamily: FONT };
  try {
    svg = cropToContent(svg, font);
    fs.writeFileSync(svgPath, svg);
    const png = new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, font }).render().asPng();
    fs.writeFileSync(pngPath, png);
    return { svg: svgPath, png: pngPath, fonts };
  } catch (err) {
    if (!fs.existsSync(svgPath)) fs.writeFileSync(svgPath, svg);
    log(`warning: PNG rendering failed (${err instanceof Error ? err.message : err}); open ${svgPath}.`);
    return { svg: svgPath, png: null, fonts };
  }
}

/** Margin kept around the drawn content when cropping, in SVG units. */
const CROP_MARGIN = 8;

/**
 * The SVG with its empty right and bottom strips cut off (a small margin kept). Without a canvas,
 * vega estimates text widths generously, which leaves wide blank space beside long titles; a
 * trial rendering with the real fonts shows where the drawing actually ends.
 */
function cropToContent(svg: string, font: { fontFiles: string[]; loadSystemFonts: boolean; defaultFontFamily: string; sansSerifFamily: string }): string {
  const open = svg.match(/^<svg[^>]*>/);
  if (!open) return svg;
  const image = new Resvg(svg, { font }).render();
  const { width, height } = image;
  const px = image.pixels;
  let right = 0;
  let bottom = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = 4 * (y * width + x);
      // Anything not white (the background) is drawing.
      if (px[i] < 250 || px[i + 1] < 250 || px[i + 2] < 250) {
        if (x > right) right = x;
        if (y > bottom) bottom = y;
      }
    }
  }
  const w = Math.min(width, right + 1 + CROP_MARGIN);
  const h = Math.min(height, bottom + 1 + CROP_MARGIN);
  const head = open[0]
    .replace(/ width="[^"]*"/, ` width="${w}"`).replace(/ height="[^"]*"/, ` height="${h}"`)
    .replace(/ viewBox="[^"]*"/, ` viewBox="0 0 ${w} ${h}"`);
  return head + svg.slice(open[0].length);
}

/**
 * Width and height of a PNG from its header, or null if the bytes are not a PNG.
 *
 * Usage: `const size = pngSize(fs.readFileSync('chart.png'));`
 */
export function pngSize(bytes: Buffer): { width: number; height: number } | null {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (bytes.length < 24 || !bytes.subarray(0, 8).equals(signature) || bytes.toString('ascii', 12, 16) !== 'IHDR') return null;
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}
