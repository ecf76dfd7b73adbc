/**
 * The folder layout is the architecture: imports inside src/ run one way (layer -> ops ->
 * kernels -> core; convert -> io; cli -> convert, io) and form no circle. Read from the sources'
 * import statements, so a new file is covered without listing it.
 */
import * as fs from 'fs';
import * as path from 'path';

const SRC = path.join(__dirname, '..', 'src');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []);
}

/** Relative imports of each file under src/, as paths relative to src/ without extension. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const text = fs.readFileSync(file, 'utf8');
    const targets = [...text.matchAll(/(?:import|export)[^'"]*?from\s+'(\.[^']+)'|import\s+'(\.[^']+)'/g)]
      .map((m) => path.resolve(path.dirname(file), m[1] ?? m[2]))
      .map((p) => (fs.existsSync(`${p}.ts`) ? `${p}.ts` : path.join(p, 'index.ts')))
      .map((p) => path.relative(SRC, p).replace(/\.ts$/, ''));
    graph.set(path.relative(SRC, file).replace(/\.ts$/, ''), targets);
  }
  return graph;
}

const folder = (module: string) => (module.includes('/') ? module.split('/')[0] : '.');

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
  '.': ['core', 'io', 'convert', 'layer', 'ops'],
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
