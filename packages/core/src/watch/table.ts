/** Aligned text tables for watches' human output: numbers right-aligned, text left-aligned. */
export interface Column<T> {
  header: string;
  value: (row: T) => string | number | bigint;
}

export function formatTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => c.value(r)));
  const numeric = columns.map((_, i) => cells.length > 0 && cells.every((row) => typeof row[i] !== 'string'));
  const text = cells.map((row) => row.map((v) => String(v)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...text.map((row) => row[i]!.length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => (numeric[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...text.map(line)].join('\n');
}
