/** A table cell: numbers are printed with `digits` significant decimals, strings as they are. */
export type Cell = string | number | boolean | null | undefined;

function show(value: Cell, digits: number): string {
  if (value == null) return '-';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return String(value);
    if (Number.isInteger(value)) return String(value);
    return Math.abs(value) !== 0 && (Math.abs(value) < 1e-3 || Math.abs(value) >= 1e5)
      ? value.toExponential(2) : value.toFixed(digits);
  }
  return String(value);
}

/**
 * Formats rows as an aligned plain-text table (numbers right-aligned), for terminal summaries.
 *
 * Usage: `console.log(formatTable([{ network: 'bn', acc: 0.91 }], { title: 'Results' }));`
 */
export function formatTable(rows: Array<Record<string, Cell>>, options: { title?: string; digits?: number } = {}): string {
  const digits = options.digits ?? 4;
  const columns: string[] = [];
  for (const row of rows) for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key);
  const cells = rows.map((row) => columns.map((c) => show(row[c], digits)));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const numeric = columns.map((c) => rows.every((r) => r[c] == null || typeof r[c] === 'number'));
  const pad = (s: string, i: number) => (numeric[i] ? s.padStart(widths[i]) : s.padEnd(widths[i]));
  const line = (parts: string[]) => `| ${parts.map(pad).join(' | ')} |`;
  const out = [
    line(columns),
    `|${widths.map((w, i) => (numeric[i] ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`,
    ...cells.map(line),
  ];
  return (options.title ? `${options.title}\n` : '') + out.join('\n');
}
