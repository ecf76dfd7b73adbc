/**
 * The README and the pages in docs/ link to one another: every relative link must name a file
 * that exists, and every `#anchor` a heading of that file (GitHub's slugs), so moving a section
 * cannot leave a dead link behind.
 */
import * as fs from 'fs';
import * as path from 'path';

const root = path.join(__dirname, '..');
const pages = ['README.md', 'CHANGELOG.md', ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** GitHub's heading anchor: lower case, punctuation other than `-` and `_` dropped, spaces to `-`. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

function anchors(file: string): Set<string> {
  const text = fs.readFileSync(file, 'utf8').replace(/^```[\s\S]*?^```/gm, '');
  return new Set([...text.matchAll(/^#{1,6}\s+(.*)$/gm)].map((m) => slug(m[1])));
}

function links(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8').replace(/^```[\s\S]*?^```/gm, '').replace(/<!--[\s\S]*?-->/g, '').replace(/`[^`\n]*`/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((t) => !/^[a-z]+:/i.test(t));
}

test.each(pages)('%s: every relative link and anchor resolves', (page) => {
  const dead: string[] = [];
  const file = path.join(root, page);
  for (const link of links(file)) {
    const [target, anchor] = link.split('#');
    const resolved = target ? path.resolve(path.dirname(file), target) : file;
    if (!fs.existsSync(resolved)) dead.push(`${link} (no file ${path.relative(root, resolved)})`);
    else if (anchor && resolved.endsWith('.md') && !anchors(resolved).has(anchor)) dead.push(`${link} (no heading #${anchor})`);
  }
  expect(dead).toEqual([]);
});

test('the README starts where a user starts: install, an example and the two commands come first', () => {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const headings = [...readme.matchAll(/^## (.*)$/gm)].map((m) => m[1]);
  expect(headings.slice(0, 3)).toEqual(['Install', 'Example', 'The two commands']);
  expect(readme.split('\n').length).toBeLessThan(150);
  expect(readme).toMatch(/npm ci && npm start/);
  expect(readme).toMatch(/npm ci && npm test/);
});
