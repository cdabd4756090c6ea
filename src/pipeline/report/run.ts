/** The run as a whole: stages with their status and times, notable events, and the recipe it ran. */
import { readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { escapeHtml as esc, formatDuration } from '../../util/format.js';
import { kvTable, badge, time, type Section, type Ctx } from './common.js';

export function overview(c: Ctx): Section {
  const { state, report } = c;
  const rows = state.stages.map((s, i) => {
    const fail = [...c.events].reverse().find((e) => e.stage === s.name && e.event === 'fail');
    const why = s.status === 'failed' && fail ? `<div class="err">${esc(String(fail['error'] ?? fail['message'] ?? ''))}</div>` : '';
    return `<tr><td>${i + 1}</td><td><b>${esc(s.name)}</b>${why}</td><td><code>${esc(s.command)}</code></td><td>${badge(s.status)}</td><td>${esc(time(s.started))}</td><td class="n">${esc(formatDuration(s.seconds))}</td><td>${esc((s.needs ?? []).join(', '))}</td><td><code>${esc(s.dir)}</code></td></tr>`;
  });
  const facts = kvTable([
    ['status', badge(report.status)],
    ...(state.description ? [['description', esc(state.description)] as [string, string]] : []),
    ['recipe', `<code>${esc(state.recipe)}</code>`],
    ['started', esc(time(state.started))],
    ['last update', esc(time(state.updated))],
    ['wall time', esc(formatDuration(report.wall_seconds))],
    ['time in stages', esc(formatDuration(report.stage_seconds))],
    ['stages', esc(['done', 'skipped', 'failed', 'running', 'pending'].map((k) => [k, state.stages.filter((s) => s.status === k).length] as const).filter(([, n]) => n).map(([k, n]) => `${n} ${k}`).join(', '))],
  ]);
  const table = `<table><tr><th>#</th><th>stage</th><th>command</th><th>status</th><th>started (UTC)</th><th>time</th><th>needs</th><th>folder</th></tr>${rows.join('')}<tr class="total"><td></td><td>total</td><td></td><td></td><td></td><td class="n">${esc(formatDuration(report.stage_seconds))}</td><td></td><td></td></tr></table>`;
  return { id: 'overview', title: 'Run overview', html: facts + table };
}

export function eventsSection(c: Ctx): Section | undefined {
  const notable = c.events.filter((e) => e.event === 'fail' || e.event === 'resume' || e.event === 'skip');
  const html: string[] = [];
  if (notable.length) {
    const shown = notable.slice(-100);
    html.push(`<table><tr><th>time (UTC)</th><th>stage</th><th>event</th><th>details</th></tr>${shown.map((e) => {
      const rest = Object.entries(e).filter(([k]) => !['time', 'stage', 'event'].includes(k));
      return `<tr><td>${esc(time(e.time))}</td><td>${esc(e.stage)}</td><td>${badge(e.event)}</td><td>${rest.map(([k, v]) => { const t = typeof v === 'string' ? v : JSON.stringify(v) ?? ''; return `${esc(k)}: ${esc(t.length > 400 ? `${t.slice(0, 400)}…` : t)}`; }).join('; ')}</td></tr>`;
    }).join('')}</table>`);
    if (notable.length > shown.length) html.push(`<p class="muted">${esc(notable.length - shown.length)} earlier events not shown (see run.jsonl).</p>`);
  }
  const recipe = readRecipe(c);
  if (recipe !== undefined) html.push(`<details><summary>recipe <code>${esc(c.state.recipe)}</code></summary><pre>${esc(recipe)}</pre></details>`);
  return html.length ? { id: 'log', title: 'Events and recipe', html: html.join('') } : undefined;
}

function readRecipe(c: Ctx): string | undefined {
  if (typeof c.state.recipe !== 'string' || !c.state.recipe) return undefined;
  for (const p of [resolve(c.state.recipe), resolve(c.run, c.state.recipe), join(c.run, 'recipe.json'), join(c.run, basename(c.state.recipe))]) {
    try {
      const st = statSync(p);
      if (!st.isFile() || st.size > 256 * 1024) continue;
      return readFileSync(p, 'utf8');
    } catch {
      /* next */
    }
  }
  return undefined;
}
