/**
 * The folder layout is the architecture: imports inside src/ run one way (layer -> ops ->
 * kernels -> core; convert -> io; cli -> convert, io) and form no circle, and the main entry
 * (src/index.ts, the package's `tfjs-batchnorm`) reaches neither the file IO, the conversion, the
 * command line nor any Node built-in, so it loads in a page. Read from the sources' import
 * statements, so a new file is covered without listing it.
 */
import * as fs from 'fs';
import { builtinModules } from 'module';
import * as path from 'path';

const SRC = path.join(__dirname, '..', 'src');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []);
}

/** Every module specifier a source imports: static, side-effect, re-export, `require` and `import()`. */
function specifiers(text: string): string[] {
  return [...text.matchAll(/(?:import|export)[^'";]*?from\s+'([^']+)'|import\s+'([^']+)'|(?:require|import)\(\s*'([^']+)'\s*\)/g)]
    .map((m) => m[1] ?? m[2] ?? m[3]);
}

/** Relative imports of each file under src/, as paths relative to src/ without extension. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const targets = specifiers(fs.readFileSync(file, 'utf8')).filter((s) => s.startsWith('.'))
      .map((s) => path.resolve(path.dirname(file), s))
      .map((p) => (fs.existsSync(`${p}.ts`) ? `${p}.ts` : path.join(p, 'index.ts')))
      .map((p) => path.relative(SRC, p).replace(/\.ts$/, ''));
    graph.set(path.relative(SRC, file).replace(/\.ts$/, ''), targets);
  }
  return graph;
}

// The package's entry points (package.json `exports`) sit above the folders, like src/index.ts.
const ENTRIES = ['index', 'io/index', 'io/keras3/browser', 'convert/index'];
const folder = (module: string) => (ENTRIES.includes(module) || !module.includes('/') ? '.' : module.split('/')[0]);

test('the import graph has no circles', () => {
  const graph = importGraph();
  const state = new Map<string, 'open' | 'done'>();
  const circles: string[] = [];
  const visit = (node: string, trail: string[]) => {
    if (state.get(node) === 'done') return;
    if (state.get(node) === 'open') {
      circles.push([...trail.slice(trail.indexOf(node)), node].join(' -> '));
      return;
    }
    state.set(node, 'open');
    for (const next of graph.get(node) ?? []) visit(next, [...trail, node]);
    state.set(node, 'done');
  };
  for (const node of graph.keys()) visit(node, []);
  expect(circles).toEqual([]);
});

// Which folders each folder may import from (besides itself).
const ALLOWED: Record<string, string[]> = {
  core: [],
  kernels: ['core'],
  ops: ['core', 'kernels'],
  layer: ['core', 'ops'],
  io: ['core'],
  convert: ['core', 'io', 'layer'],
  cli: ['core', 'io', 'convert'],
  '.': ['core', 'io', 'convert', 'layer', 'ops', 'kernels'],
};

test('imports run one way between folders', () => {
  const wrong: string[] = [];
  for (const [from, targets] of importGraph()) {
    for (const to of targets) {
      const [a, b] = [folder(from), folder(to)];
      if (a !== b && !(ALLOWED[a] ?? []).includes(b)) wrong.push(`${from} -> ${to}`);
    }
  }
  expect(wrong).toEqual([]);
});

/** The modules `entry` loads, itself included, following relative imports. */
function reachable(graph: Map<string, string[]>, entry: string): string[] {
  const seen = new Set<string>([entry]);
  const queue = [entry];
  while (queue.length > 0) {
    for (const next of graph.get(queue.pop()!) ?? []) {
      if (!seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return [...seen].sort();
}

const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

test('the main entry reaches no file IO, conversion, command line or Node built-in; the keras and convert entries no Node built-in', () => {
  const graph = importGraph();
  const modules = reachable(graph, 'index');
  // The layers and their math are what it is for (a misread graph would find nothing at all).
  expect(modules).toEqual(expect.arrayContaining(['layer/batch_normalization', 'ops/batch_norm']));
  expect(modules.filter((m) => ['io', 'convert', 'cli'].includes(m.split('/')[0]))).toEqual([]);
  const builtins = modules.flatMap((m) => specifiers(fs.readFileSync(path.join(SRC, `${m}.ts`), 'utf8'))
    .filter((s) => NODE_BUILTINS.has(s)).map((s) => `${m} -> ${s}`));
  expect(builtins).toEqual([]);
  // tfjs-batchnorm/keras reads Keras files in pages too; tfjs-batchnorm/convert works there as well.
  for (const entry of ['io/keras3/browser', 'convert/index']) {
    const reached = reachable(graph, entry);
    expect(reached.flatMap((m) => specifiers(fs.readFileSync(path.join(SRC, `${m}.ts`), 'utf8')).filter((s) => NODE_BUILTINS.has(s))
      .map((s) => `${m} -> ${s}`))).toEqual([]);
  }
  // The check can fail: the io entry does reach Node's file system.
  const io = reachable(graph, 'io/index');
  expect(io.flatMap((m) => specifiers(fs.readFileSync(path.join(SRC, `${m}.ts`), 'utf8'))).filter((s) => NODE_BUILTINS.has(s)))
    .toEqual(expect.arrayContaining(['fs', 'path']));
});
