/**
 * How kolm writes numbers for people: progress lines, logs, model cards, summaries and HTML reports all use these,
 * so a count, a duration or a share reads the same wherever it appears. Missing values (undefined, null, NaN) read
 * '—' rather than 'NaN' or '0'.
 */

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A compact count: 950, 1.5k, 55.3M, 1.23B (non-integers below 1000 keep two decimals: 3.57). */
export function formatCount(v: unknown): string {
  if (!isFiniteNumber(v)) return '—';
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(2)}B`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

/**
 * A number in a sentence or a table: integers with thousands separators (54,794,831), others with `digits` decimals
 * (one from 100 up), exponent form when very large or very small. Values that are not numbers are shown as text.
 */
export function formatNumber(v: unknown, digits = 4): string {
  if (typeof v !== 'number') return v === null || v === undefined ? '—' : String(v);
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return v.toLocaleString('en-US');
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
  return v.toFixed(a >= 100 ? 1 : digits);
}

/** A benchmark or loss value in a column of them: always four decimals so columns line up; 1e5 and up as 1.234e+5. */
export function formatMetric(v: unknown): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 1e5 ? v.toExponential(3) : v.toFixed(4);
}

/** A fraction as a percentage: 0.4234 → 42.3%. */
export function formatPercent(fraction: unknown, digits = 1): string {
  return isFiniteNumber(fraction) ? `${(fraction * 100).toFixed(digits)}%` : '—';
}

/** A size in bytes with binary units: 512 B, 3.5 KiB, 12.0 MiB, 1.25 GiB. */
export function formatBytes(bytes: unknown): string {
  if (!isFiniteNumber(bytes)) return '—';
  const a = Math.abs(bytes);
  if (a >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (a >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  if (a >= 2 ** 10) return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
  return `${bytes} B`;
}

/** A duration: 4.2 s, 42 s, 3m 07s, 1h 02m 03s. */
export function formatDuration(seconds: unknown): string {
  if (!isFiniteNumber(seconds) || seconds < 0) return '—';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h}h ${String(m).padStart(2, '0')}m ${String(r).padStart(2, '0')}s` : `${m}m ${String(r).padStart(2, '0')}s`;
}

const HTML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text (or any value, as text) safe inside HTML elements and quoted attributes. */
export function escapeHtml(v: unknown): string {
  return String(v).replace(/[&<>"']/g, (c) => HTML_ENTITIES[c]!);
}
