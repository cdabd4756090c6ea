/** The alignment stages (SFT, reward model, DPO, PPO): before/after numbers, all settings, and their charts. */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { escapeHtml as esc, formatNumber, formatPercent } from '../../util/format.js';
import { readJson, readJsonl } from '../records.js';
import { PALETTE, isObj, num, kvTable, chart, downsample, series, svgImage, stageDir, stageHead, numbersOf, type Json, type Section, type Ctx } from './common.js';

const ALIGN_COMMANDS = ['sft', 'rm', 'dpo', 'ppo'];
const ALIGN_TITLES: Record<string, string> = { sft: 'supervised fine-tuning', rm: 'reward model', dpo: 'direct preference optimisation', ppo: 'PPO' };

/** before → after pairs from a summary: x_before/x_after, first_x/last_x, x_first/x_last, x_first5/x_last5. */
function beforeAfter(summary: Json): { rows: [string, unknown, unknown][]; used: Set<string> } {
  const rows: [string, unknown, unknown][] = [];
  const used = new Set<string>();
  const keys = Object.keys(summary);
  const pairs: [RegExp, (m: RegExpMatchArray) => string, (m: RegExpMatchArray) => string][] = [
    [/^(.+)_before$/, (m) => `${m[1]}_after`, (m) => m[1]!],
    [/^first_(.+)$/, (m) => `last_${m[1]}`, (m) => m[1]!],
    [/^(.+)_first$/, (m) => `${m[1]}_last`, (m) => m[1]!],
    [/^(.+)_first5$/, (m) => `${m[1]}_last5`, (m) => `${m[1]} (mean of 5)`],
  ];
  for (const k of keys) {
    for (const [re, other, name] of pairs) {
      const m = k.match(re);
      if (!m || !(other(m) in summary)) continue;
      rows.push([name(m).replace(/_/g, ' '), summary[k], summary[other(m)]]);
      used.add(k).add(other(m));
    }
  }
  return { rows, used };
}

export function alignmentSection(c: Ctx): Section | undefined {
  const parts: string[] = [];
  for (const s of c.state.stages.filter((s) => ALIGN_COMMANDS.includes(s.command))) {
    const dir = stageDir(c, s);
    const summary = readJson(join(dir, 'summary.json'));
    const metrics = readJsonl(join(dir, 'metrics.jsonl'));
    const svgs = (() => {
      try {
        return readdirSync(dir).filter((f) => f.endsWith('.svg')).sort();
      } catch {
        return [];
      }
    })();
    if (!isObj(summary) && !metrics.length && !svgs.length) continue;
    const html: string[] = [stageHead(s, ` <span class="muted">${esc(ALIGN_TITLES[s.command] ?? s.command)}</span>`)];
    const numbers: Json = {};
    if (isObj(summary)) {
      const { rows, used } = beforeAfter(summary);
      const isRate = (name: string) => /accuracy|rate/.test(name);
      const show = (name: string, v: unknown) => (isRate(name) ? formatPercent(v) : formatNumber(v));
      if (rows.length) {
        html.push(`<table><tr><th></th><th>before</th><th>after</th><th>change</th></tr>${rows.map(([name, a, b]) => {
          const d = num(a) !== undefined && num(b) !== undefined ? (b as number) - (a as number) : undefined;
          return `<tr><th>${esc(name)}</th><td class="n">${esc(show(name, a))}</td><td class="n"><b>${esc(show(name, b))}</b></td><td class="n">${d === undefined ? '—' : esc(isRate(name) ? `${d >= 0 ? '+' : ''}${(d * 100).toFixed(1)} pts` : `${d >= 0 ? '+' : ''}${formatNumber(d)}`)}</td></tr>`;
        }).join('')}</table>`);
      }
      const other = Object.entries(summary).filter(([k, v]) => !used.has(k) && k !== 'command' && (typeof v !== 'object' || v === null || (Array.isArray(v) && v.every((x) => typeof x !== 'object'))));
      const nested = Object.entries(summary).filter(([k, v]) => !used.has(k) && isObj(v));
      html.push(`<details><summary>all settings and numbers</summary>${kvTable([
        ...other.map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => `<code>${esc(x)}</code>`).join(' ') : typeof v === 'string' ? `<code>${esc(v)}</code>` : esc(formatNumber(v))] as [string, string]),
        ...nested.map(([k, v]) => [k, Object.entries(v as Json).map(([a, b]) => `${esc(a)} ${esc(formatNumber(b))}`).join(', ')] as [string, string]),
      ])}</details>`);
      for (const [k, v] of Object.entries(summary)) if (typeof v === 'number' || v === null) numbers[k] = v;
    } else if (metrics.length) {
      const last = metrics.at(-1)!;
      html.push(kvTable(Object.entries(last).filter(([k, v]) => k !== 'time' && typeof v === 'number').map(([k, v]) => [k, esc(formatNumber(v))] as [string, string])));
      for (const [k, v] of Object.entries(last)) if (k !== 'time' && typeof v === 'number') numbers[k] = v;
    }
    const charts = svgs.map((f) => svgImage(join(dir, f), `${s.name}: ${f}`)).filter(Boolean);
    if (!charts.length && metrics.length) {
      const x = metrics.some((m) => num(m['iteration']) !== undefined) ? 'iteration' : 'step';
      const keys = [...new Set(metrics.flatMap((m) => Object.keys(m)))].filter((k) => k === 'loss' || k === 'score' || k.startsWith('val_'));
      if (keys.length) charts.push(chart(keys.map((k, i) => ({ name: k.replace(/_/g, ' '), color: PALETTE[i % PALETTE.length]!, points: downsample(series(metrics, x, k)) })), `${s.name}`));
    }
    if (charts.length) html.push(`<div class="charts">${charts.join('')}</div>`);
    parts.push(html.join(''));
    numbersOf(c, s).numbers = numbers;
  }
  return parts.length ? { id: 'alignment', title: 'Alignment', html: parts.join('') } : undefined;
}
