/**
 * The final report of a pipeline run: RUN/report.html, one self-contained page (inline CSS and SVG, no scripts, nothing
 * fetched) with the run's stages and times, the data and tokenizer, pretraining curves and checkpoint evaluations,
 * the alignment stages, benchmark results, safety numbers and sample generations; and RUN/report.json with the key
 * numbers. It reads only what the stages left in their folders, so a partial or failed run renders too: a section
 * whose files are missing is left out. Every text taken from a file is escaped.
 */
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { KolmError } from '../util/errors.js';
import { escapeHtml as esc } from '../util/format.js';
import { alignmentSection } from './report/alignment.js';
import { safetySection, samplesSection } from './report/behaviour.js';
import { badge, isObj, num, time, type Ctx, type RunEvent, type RunReport, type RunStage, type RunStageStatus, type RunState, type Section } from './report/common.js';
import { dataSection, tokenizerSection } from './report/data.js';
import { evalSection } from './report/evaluation.js';
import { pretrainSection } from './report/pretrain.js';
import { eventsSection, overview } from './report/run.js';
import { CSS } from './report/style.js';
import { readJsonl } from './records.js';

export type { RunEvent, RunReport, RunStage, RunStageStatus, RunState } from './report/common.js';

/** RUN/pipeline.json, with defaults for what a partial or older run's state lacks. */
function readState(run: string): RunState {
  const path = join(run, 'pipeline.json');
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new KolmError(`${path}: cannot read the run state (${(e as Error).message})`);
  }
  if (!isObj(v) || !Array.isArray(v['stages'])) throw new KolmError(`${path}: not a kolm pipeline state (no 'stages' list)`);
  const stages = (v['stages'] as unknown[]).filter(isObj).map((s, i): RunStage => ({
    name: typeof s['name'] === 'string' ? s['name'] : `stage-${i + 1}`,
    command: typeof s['command'] === 'string' ? s['command'].trim().replace(/\s+/g, ' ') : '',
    dir: typeof s['dir'] === 'string' ? s['dir'] : typeof s['name'] === 'string' ? s['name'] : `stage-${i + 1}`,
    argv: Array.isArray(s['argv']) ? s['argv'].map(String) : [],
    needs: Array.isArray(s['needs']) ? s['needs'].map(String) : [],
    hash: typeof s['hash'] === 'string' ? s['hash'] : '',
    // The report stage that is writing this page counts as done.
    status: (s['command'] === 'report' && s['status'] === 'running' ? 'done' : ['pending', 'running', 'done', 'skipped', 'failed'].includes(String(s['status'])) ? s['status'] : 'pending') as RunStageStatus,
    ...(typeof s['started'] === 'string' ? { started: s['started'] } : {}),
    ...(typeof s['finished'] === 'string' ? { finished: s['finished'] } : {}),
    ...(num(s['seconds']) !== undefined ? { seconds: s['seconds'] as number } : {}),
  }));
  return {
    name: typeof v['name'] === 'string' ? v['name'] : basename(resolve(run)),
    recipe: typeof v['recipe'] === 'string' ? v['recipe'] : '',
    ...(typeof v['description'] === 'string' ? { description: v['description'] } : {}),
    started: typeof v['started'] === 'string' ? v['started'] : '',
    updated: typeof v['updated'] === 'string' ? v['updated'] : '',
    stages,
  };
}

/** Read a run folder and render the report (HTML and the key numbers); nothing is written. */
export function renderRunReport(runDir: string): { html: string; report: RunReport } {
  const run = resolve(runDir);
  const state = readState(run);
  const events = readJsonl(join(run, 'run.jsonl')).filter((e): e is RunEvent => typeof e['stage'] === 'string' && typeof e['event'] === 'string') as RunEvent[];
  const started = Date.parse(state.started), updated = Date.parse(state.updated);
  const report: RunReport = {
    format: 'kolm-pipeline-report',
    version: 1,
    name: state.name,
    ...(state.description ? { description: state.description } : {}),
    recipe: state.recipe,
    generated: new Date().toISOString(),
    started: state.started,
    updated: state.updated,
    status: state.stages.some((s) => s.status === 'failed') ? 'failed' : state.stages.some((s) => s.status === 'running' || s.status === 'pending') ? 'running' : 'done',
    wall_seconds: Number.isFinite(started) && Number.isFinite(updated) ? Math.max(0, (updated - started) / 1000) : null,
    stage_seconds: state.stages.reduce((a, s) => a + (s.seconds ?? 0), 0),
    stages: state.stages.map((s) => ({ name: s.name, command: s.command, dir: s.dir, status: s.status, seconds: s.seconds ?? null })),
  };
  const c: Ctx = { run, state, events, report };
  const sections = [overview(c), dataSection(c), tokenizerSection(c), pretrainSection(c), alignmentSection(c), evalSection(c), safetySection(c), samplesSection(c), eventsSection(c)].filter((s): s is Section => s !== undefined);
  const title = `kolm run: ${state.name}`;
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title>
<style>${CSS}</style></head><body>
<h1>${esc(title)} ${badge(report.status)}</h1>
<div class="muted">${state.description ? `${esc(state.description)} · ` : ''}report written ${esc(time(report.generated))} UTC</div>
<nav>${sections.map((s) => `<a href="#${s.id}">${esc(s.title)}</a>`).join('')}</nav>
${sections.map((s) => `<section id="${s.id}"><h2>${esc(s.title)}</h2>${s.html}</section>`).join('\n')}
</body></html>
`;
  return { html, report };
}

/** Write RUN/report.html and RUN/report.json (both atomically) for the run folder RUN. */
export async function writeReport(runDir: string): Promise<{ html: string; json: string; report: RunReport }> {
  const { html, report } = renderRunReport(runDir);
  const htmlPath = join(runDir, 'report.html');
  const jsonPath = join(runDir, 'report.json');
  await writeFileAtomic(htmlPath, html);
  await writeFileAtomic(jsonPath, JSON.stringify(report, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  return { html: htmlPath, json: jsonPath, report };
}
