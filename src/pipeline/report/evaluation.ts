/** Benchmark results of every eval stage, side by side per model, with the best value per row marked. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { EvalResults, TaskResult } from '../../eval/evaluator.js';
import { mergeRuns, metricKeys, type ReportRun } from '../../eval/report.js';
import { escapeHtml as esc, formatDuration, formatMetric, formatNumber } from '../../util/format.js';
import { readJson } from '../records.js';
import { PALETTE, isObj, num, metricLabel, stageDir, numbersOf, type Section, type Ctx } from './common.js';

function isResults(v: unknown): v is EvalResults {
  return isObj(v) && isObj(v['results']);
}

export function evalSection(c: Ctx): Section | undefined {
  const runs: ReportRun[] = [];
  const links: string[] = [];
  for (const s of c.state.stages.filter((s) => s.command === 'eval')) {
    const dir = stageDir(c, s);
    let subs: string[] = [];
    try {
      subs = readdirSync(dir).filter((d) => existsSync(join(dir, d, 'results.json'))).sort();
    } catch {
      continue;
    }
    const stageRuns: ReportRun[] = [];
    if (existsSync(join(dir, 'results.json'))) {
      const r = readJson(join(dir, 'results.json'));
      if (isResults(r)) stageRuns.push({ label: typeof r.model_name === 'string' && r.model_name ? r.model_name : s.name, results: r });
    }
    for (const d of subs) {
      const r = readJson(join(dir, d, 'results.json'));
      if (isResults(r)) stageRuns.push({ label: d, results: r });
    }
    if (!stageRuns.length) continue;
    runs.push(...stageRuns);
    numbersOf(c, s).numbers = { models: stageRuns.map((r) => r.label) };
    if (existsSync(join(dir, 'report.html'))) links.push(`<a href="${esc(encodeURI(`${s.dir}/report.html`))}">${esc(s.name)}: charts</a>`);
  }
  if (!runs.length) return undefined;
  const merged = mergeRuns(runs);
  const keysOf = (r: TaskResult | undefined) => (r ? metricKeys(r) : []);
  const hib = (task: string, key: string) => {
    const metric = key.split(',')[0]!;
    for (const r of merged) {
      const h = r.results.higher_is_better?.[task]?.[metric];
      if (typeof h === 'boolean') return h;
    }
    return !/perplexity|bits_per_byte|bias|toxicity|over_refusal/.test(metric);
  };
  const table = (section: 'results' | 'groups', names: string[]) => {
    const rows = names.flatMap((task) => [...new Set(merged.flatMap((r) => keysOf(r.results[section]?.[task])))].map((key) => ({ task, key })));
    if (!rows.length) return '';
    const head = `<tr><th>task</th><th>metric</th>${merged.map((r, i) => `<th><span class="sw" style="background:${PALETTE[i % PALETTE.length]}"></span>${esc(r.label)}</th>`).join('')}</tr>`;
    return `<table>${head}${rows.map(({ task, key }) => {
      const vals = merged.map((r) => r.results[section]?.[task]?.[key]);
      const nums = vals.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      const best = nums.length > 1 ? (hib(task, key) ? Math.max(...nums) : Math.min(...nums)) : undefined;
      return `<tr><td>${esc(task)}</td><td>${esc(metricLabel(key))}${hib(task, key) ? '' : ' <span class="muted">↓</span>'}</td>${merged.map((r, i) => {
        const v = vals[i];
        const se = r.results[section]?.[task]?.[key.replace(',', '_stderr,')];
        return `<td class="n${typeof v === 'number' && v === best ? ' best' : ''}">${esc(typeof v === 'number' ? formatMetric(v) : v === undefined ? '—' : 'n/a')}${typeof se === 'number' ? `<span class="muted"> ± ${esc(formatMetric(se))}</span>` : ''}</td>`;
      }).join('')}</tr>`;
    }).join('')}</table>`;
  };
  const tasks = [...new Set(merged.flatMap((r) => Object.keys(r.results.results ?? {})))].sort();
  const groups = [...new Set(merged.flatMap((r) => Object.keys(r.results.groups ?? {})))].sort();
  const models = merged.map((r, i) => {
    const m = isObj(r.results.model) ? r.results.model : {};
    return `<li><span class="sw" style="background:${PALETTE[i % PALETTE.length]}"></span><b>${esc(r.label)}</b> <span class="muted">${m['path'] !== undefined ? `<code>${esc(m['path'])}</code>, ` : ''}${num(m['parameters']) !== undefined ? `${esc(formatNumber(m['parameters']))} parameters, ` : ''}limit ${esc(r.results.config?.['limit'] ?? 'none')}, ${esc(formatDuration(r.results.total_evaluation_time_seconds))}</span></li>`;
  });
  c.report.eval = Object.fromEntries(merged.map((r) => [r.label, Object.fromEntries([...Object.entries(r.results.groups ?? {}), ...Object.entries(r.results.results ?? {})].map(([t, res]) => [t, Object.fromEntries(keysOf(res).map((k) => [k, typeof res[k] === 'number' ? (res[k] as number) : null]))]))]));
  const html = [
    `<ul class="models">${models.join('')}</ul>`,
    links.length ? `<p>${links.join(' · ')}</p>` : '',
    groups.length ? `<h3>Groups</h3>${table('groups', groups)}` : '',
    `<h3>Tasks</h3>${table('results', tasks)}`,
    '<p class="muted">Best value per row highlighted; ↓ marks metrics where lower is better; ± is the standard error.</p>',
  ];
  return { id: 'evaluation', title: 'Evaluation', html: html.join('') };
}
