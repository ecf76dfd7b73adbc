/**
 * Bundles browser pages with esbuild, as a user's bundler would (the package imported by name,
 * resolved through package.json's `exports` to the ES module build), and serves them with the
 * static files they need on 127.0.0.1 only.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as esbuild from 'esbuild';

export const ROOT = path.join(__dirname, '..', '..');

export interface Served {
  /** e.g. http://127.0.0.1:8000 */
  origin: string;
  /** The folder served (bundles are written into it too). */
  dir: string;
  stop(): Promise<void>;
}

export interface ServeOptions {
  /** Folder to serve, created empty. */
  dir: string;
  /** Bundle entry points: output name (without .js) -> source file. */
  entries: Record<string, string>;
  /** Extra files to place in the folder: relative path -> source file or contents. */
  files?: Record<string, string | Buffer>;
}

/** The wasm backend's binaries, served beside the bundles (the page calls setWasmPaths('/')). */
function wasmFiles(): Record<string, Buffer> {
  const dist = path.join(ROOT, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
  const out: Record<string, Buffer> = {};
  for (const name of fs.readdirSync(dist).filter((n) => n.endsWith('.wasm'))) out[name] = fs.readFileSync(path.join(dist, name));
  return out;
}

/**
 * Bundles `entries` into `dir` and serves `dir` on 127.0.0.1.
 *
 * Usage: `const served = await serve({ dir, entries: { page: 'test/browser/page.ts' } }); ...; await served.stop();`
 */
export async function serve(options: ServeOptions): Promise<Served> {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'esm', 'index.mjs'))) {
    throw new Error('dist/esm/index.mjs is missing: run `npm run build` first (npm ci runs it)');
  }
  fs.rmSync(options.dir, { recursive: true, force: true });
  fs.mkdirSync(options.dir, { recursive: true });
  for (const [rel, content] of Object.entries({ ...wasmFiles(), ...(options.files ?? {}) })) {
    const target = path.join(options.dir, rel);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    if (typeof content === 'string' && fs.existsSync(content)) fs.copyFileSync(content, target);
    else fs.writeFileSync(target, content);
  }
  await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: Object.fromEntries(Object.entries(options.entries).map(([k, v]) => [k, path.join(ROOT, v)])),
    outdir: options.dir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    minify: false,
    sourcemap: true,
    logLevel: 'error',
    // tfjs-core's optional Node paths (util, crypto) stay out of the bundle.
    logOverride: { 'import-is-undefined': 'silent' },
    // Not this repository's tsconfig.json: esbuild honours its `paths`, which map 'tfjs-batchnorm'
    // to src/ for the Node tests; a page must get the built package, as a user's bundle does.
    tsconfigRaw: '{}',
  });
  const ctx = await esbuild.context({ logLevel: 'error' });
  const server = await ctx.serve({ host: '127.0.0.1', servedir: options.dir });
  return {
    origin: `http://127.0.0.1:${server.port}`,
    dir: options.dir,
    stop: async () => ctx.dispose(),
  };
}
