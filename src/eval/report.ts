/**
 * A self-contained HTML report comparing several result files side by side: a summary table (value ± stderr per
 * task and metric, the best model marked), one inline-SVG bar chart per task metric with standard-error whiskers,
 * group aggregates, and the run details (shots, samples, timings, classifier lexicons, sandbox). No scripts, fonts
 * or stylesheets are fetched.
 */
import { readFileSync } from 'node:fs';
import { KolmError } from '../util/errors.js';
import { escapeHtml as esc, formatNumber } from '../util/format.js';
import type { EvalResults, TaskResult } from './evaluator.js';

export interface ReportRun {
  label: string;
  results: EvalResults;
}

const PALETTE = ['#2f6db5', '#d9822b', '#3a9a5b', '#b7472a', '#7d5ba6', '#8c6d46', '#c2528b', '#5f6b73'];

export function loadResults(path: string): EvalResults {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new KolmError(`${path}: cannot read results JSON (${(e as Error).message})`);
  }
  const r = v as Partial<EvalResults>;
  if (!r || typeof r !== 'object' || typeof r.results !== 'object' || r.results === null) throw new KolmError(`${path}: not a kolm eval results file (no 'results' object)`);
  return r as EvalResults;
}

/** Metric keys ("acc,none") of a task result, without stderr keys. */
export function metricKeys(r: TaskResult): string[] {
  return Object.keys(r).filter((k) => k !== 'alias' && !k.includes('_stderr,') && k.includes(','));
}

const stderrKey = (k: string) => k.replace(',', '_stderr,');
const label = (k: string) => (k.endsWith(',none') ? k.slice(0, -5) : k.replace(',', ' · '));

function barChart(title: string, runs: ReportRun[], values: (number | null | undefined)[], errs: (number | undefined)[], higherIsBetter: boolean): string {
  const W = 560, rowH = 22, left = 170, right = 70, top = 26;
  const H = top + runs.length * rowH + 22;
  const finite = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const rate = finite.every((v) => v >= 0 && v <= 1);
  const ends = values.flatMap((v, i) => (typeof v === 'number' && Number.isFinite(v) ? [v - (errs[i] ?? 0), v + (errs[i] ?? 0)] : []));
  const hi = Math.max(rate ? 1 : 0, ...ends, 1e-9);
  // Rates stay on [0, 1]; metrics with negative values (bias scores) get room for their whiskers.
  const lo = Math.min(0, ...(finite.some((v) => v < 0) ? ends : finite));
  const x = (v: number) => left + ((Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo)) * (W - left - right);
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">`];
  parts.push(`<text x="0" y="15" font-size="13" font-weight="600">${esc(title)}</text><text x="${W}" y="15" font-size="11" text-anchor="end" fill="#666">${higherIsBetter ? 'higher is better' : 'lower is better'}</text>`);
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    const v = lo + t * (hi - lo);
    const gx = x(v).toFixed(1);
    parts.push(`<line x1="${gx}" y1="${top - 4}" x2="${gx}" y2="${H - 18}" stroke="#e3e3e3"/><text x="${gx}" y="${H - 5}" font-size="10" text-anchor="middle" fill="#777">${esc(formatNumber(v, 2))}</text>`);
  }
  runs.forEach((run, i) => {
    const y = top + i * rowH;
    const v = values[i];
    parts.push(`<text x="${left - 6}" y="${y + 14}" font-size="11" text-anchor="end">${esc(run.label.length > 26 ? '…' + run.label.slice(-25) : run.label)}</text>`);
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      // undefined: the task was not run for this model; null/NaN: the metric was undefined on its documents
      parts.push(`<text x="${left + 4}" y="${y + 14}" font-size="11" fill="#999">${v === undefined ? 'not run' : 'n/a'}</text>`);
      return;
    }
    const x0 = x(Math.min(0, v)), x1 = x(Math.max(0, v));
    parts.push(`<rect x="${x0.toFixed(1)}" y="${y + 3}" width="${Math.max(1, x1 - x0).toFixed(1)}" height="${rowH - 7}" fill="${PALETTE[i % PALETTE.length]}"><title>${esc(`${run.label}: ${formatNumber(v)}${errs[i] !== undefined ? ` ± ${formatNumber(errs[i])}` : ''}`)}</title></rect>`);
    const e = errs[i];
    if (typeof e === 'number' && e > 0) {
      const ya = y + rowH / 2 - 1;
      parts.push(`<line x1="${x(v - e).toFixed(1)}" y1="${ya}" x2="${x(v + e).toFixed(1)}" y2="${ya}" stroke="#222"/><line x1="${x(v - e).toFixed(1)}" y1="${ya - 4}" x2="${x(v - e).toFixed(1)}" y2="${ya + 4}" stroke="#222"/><line x1="${x(v + e).toFixed(1)}" y1="${ya - 4}" x2="${x(v + e).toFixed(1)}" y2="${ya + 4}" stroke="#222"/>`);
    }
    parts.push(`<text x="${(x(Math.max(v, 0) + (e ?? 0)) + 4).toFixed(1)}" y="${y + 14}" font-size="11">${esc(formatNumber(v))}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

function hib(runs: ReportRun[], task: string, key: string): boolean {
  const metric = key.split(',')[0]!;
  for (const r of runs) {
    const h = r.results.higher_is_better?.[task]?.[metric];
    if (typeof h === 'boolean') return h;
  }
  return !/perplexity|bits_per_byte|bias|toxicity|over_refusal/.test(metric);
}

function table(runs: ReportRun[], rows: { section: 'results' | 'groups'; task: string; key: string }[]): string {
  const head = `<tr><th>task</th><th>metric</th>${runs.map((r, i) => `<th><span class="sw" style="background:${PALETTE[i % PALETTE.length]}"></span>${esc(r.label)}</th>`).join('')}</tr>`;
  const body = rows.map(({ section, task, key }) => {
    const vals = runs.map((r) => r.results[section]?.[task]?.[key]);
    const nums = vals.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    const better = hib(runs, task, key);
    const best = nums.length > 1 ? (better ? Math.max(...nums) : Math.min(...nums)) : undefined;
    const cells = runs.map((r, i) => {
      const v = vals[i];
      const se = r.results[section]?.[task]?.[stderrKey(key)];
      const cls = typeof v === 'number' && v === best ? ' class="best"' : '';
      return `<td${cls}>${esc(formatNumber(v))}${typeof se === 'number' ? `<span class="se"> ± ${esc(formatNumber(se))}</span>` : ''}</td>`;
    });
    return `<tr><td>${esc(task)}</td><td>${esc(label(key))}</td>${cells.join('')}</tr>`;
  });
  return `<table>${head}${body.join('')}</table>`;
}

/**
 * Runs of the same model (same label) merged into one: task results, groups, shots, samples, timings and task info
 * of later runs add to (or replace, for a task run twice) the earlier ones.
 */
export function mergeRuns(runs: ReportRun[]): ReportRun[] {
  const byLabel = new Map<string, ReportRun>();
  for (const run of runs) {
    const prev = byLabel.get(run.label);
    if (!prev) {
      byLabel.set(run.label, { label: run.label, results: JSON.parse(JSON.stringify(run.results)) as EvalResults });
      continue;
    }
    const a = prev.results, b = run.results;
    for (const k of ['results', 'groups', 'group_subtasks', 'configs', 'versions', 'n-shot', 'higher_is_better', 'n-samples', 'timings', 'task_info'] as const) {
      (a as unknown as Record<string, Record<string, unknown>>)[k] = { ...((a as unknown as Record<string, Record<string, unknown>>)[k] ?? {}), ...((b as unknown as Record<string, Record<string, unknown>>)[k] ?? {}) };
    }
    a.total_evaluation_time_seconds = (a.total_evaluation_time_seconds ?? 0) + (b.total_evaluation_time_seconds ?? 0);
    if (a.config?.['limit'] !== b.config?.['limit']) a.config = { ...a.config, limit: `${a.config?.['limit'] ?? 'none'} / ${b.config?.['limit'] ?? 'none'}` };
  }
  return [...byLabel.values()];
}

/** Render the report for one or more runs (one per model). */
export function renderReport(runs: ReportRun[], title = 'kolm evaluation'): string {
  if (!runs.length) throw new KolmError('report: no results given');
  const tasks = [...new Set(runs.flatMap((r) => Object.keys(r.results.results)))].sort();
  const groups = [...new Set(runs.flatMap((r) => Object.keys(r.results.groups ?? {})))].sort();
  const rows = (section: 'results' | 'groups', names: string[]) => names.flatMap((task) => {
    const keys = [...new Set(runs.flatMap((r) => { const t = r.results[section]?.[task]; return t ? metricKeys(t) : []; }))];
    return keys.map((key) => ({ section, task, key }));
  });
  const taskRows = rows('results', tasks);
  const groupRows = rows('groups', groups);
  const charts = taskRows.map(({ task, key }) => {
    const values = runs.map((r) => r.results.results[task]?.[key] as number | null | undefined);
    const errs = runs.map((r) => { const e = r.results.results[task]?.[stderrKey(key)]; return typeof e === 'number' ? e : undefined; });
    return `<figure>${barChart(`${task} — ${label(key)}`, runs, values, errs, hib(runs, task, key))}</figure>`;
  });
  const groupCharts = groupRows.map(({ task, key }) => {
    const values = runs.map((r) => r.results.groups?.[task]?.[key] as number | null | undefined);
    const errs = runs.map((r) => { const e = r.results.groups?.[task]?.[stderrKey(key)]; return typeof e === 'number' ? e : undefined; });
    return `<figure>${barChart(`${task} — ${label(key)}`, runs, values, errs, hib(runs, task, key))}</figure>`;
  });
  const models = runs.map((r, i) => {
    const m = r.results.model ?? {};
    const facts = Object.entries(m).filter(([, v]) => v !== undefined && v !== null && typeof v !== 'object').map(([k, v]) => `${esc(k)}: ${esc(typeof v === 'number' && k === 'parameters' ? v.toLocaleString('en-US') : v)}`).join(' · ');
    return `<li><span class="sw" style="background:${PALETTE[i % PALETTE.length]}"></span><b>${esc(r.label)}</b> — ${facts}<br><span class="se">evaluated ${esc(r.results.date ?? '')}, ${esc(formatNumber(r.results.total_evaluation_time_seconds, 1))} s; limit ${esc(r.results.config?.['limit'] ?? 'none')}, bootstrap ${esc(r.results.config?.['bootstrap_iters'] ?? '')}</span></li>`;
  });
  const details = tasks.map((task) => {
    const cells = runs.map((r) => {
      const n = r.results['n-samples']?.[task];
      const shots = r.results['n-shot']?.[task];
      const t = r.results.timings?.[task];
      return `<td>${n ? `${n.effective}/${n.original}` : '—'}${shots !== undefined ? `, ${shots}-shot` : ''}${t !== undefined ? `, ${formatNumber(t, 1)} s` : ''}</td>`;
    });
    return `<tr><td>${esc(task)}</td>${cells.join('')}</tr>`;
  });
  const info = new Map<string, unknown>();
  for (const r of runs) for (const [k, v] of Object.entries(r.results.task_info ?? {})) if (!info.has(k)) info.set(k, v);
  const infoHtml = [...info].map(([task, v]) => `<h3>${esc(task)}</h3><pre>${esc(JSON.stringify(v, null, 2))}</pre>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1180px;color:#1d1d1d;padding:0 16px}
h1{font-size:22px}h2{font-size:17px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:14px}
table{border-collapse:collapse;margin:8px 0 16px;font-variant-numeric:tabular-nums}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f5f5f5}
td.best{background:#e8f3e8;font-weight:600}.se{color:#777;font-weight:400;font-size:12px}
.sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px}
.charts{display:flex;flex-wrap:wrap;gap:8px 24px}figure{margin:0}pre{background:#f7f7f7;padding:8px;overflow:auto;font-size:12px}
</style></head><body>
<h1>${esc(title)}</h1>
<h2>Models</h2><ul>${models.join('')}</ul>
${groupRows.length ? `<h2>Groups</h2>${table(runs, groupRows)}<div class="charts">${groupCharts.join('')}</div>` : ''}
<h2>Tasks</h2>${table(runs, taskRows)}
<h2>Charts</h2><div class="charts">${charts.join('')}</div>
<h2>Run details</h2><table><tr><th>task</th>${runs.map((r) => `<th>${esc(r.label)}</th>`).join('')}</tr>${details.join('')}</table>
${infoHtml ? `<h2>Classifiers, patterns and sandbox</h2>${infoHtml}` : ''}
</body></html>
`;
}
