/**
 * The final report of a pipeline run: RUN/report.html, one self-contained page (inline CSS and SVG, no scripts, nothing
 * fetched) with the run's stages and times, the data and tokenizer, pretraining curves and checkpoint evaluations,
 * the alignment stages, benchmark results, safety numbers and sample generations; and RUN/report.json with the key
 * numbers. It reads only what the stages left in their folders, so a partial or failed run renders too: a section
 * whose files are missing is left out. Every text taken from a file is escaped.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { lossChartSvg, type Series } from '../train/plot.js';
import { mergeRuns, type ReportRun } from '../eval/report.js';
import type { EvalResults, TaskResult } from '../eval/evaluator.js';
import { writeFileAtomic } from '../util/atomic.js';
import { KolmError } from '../util/errors.js';
import type { PipelineState, StageState, StageStatus } from './runner.js';
import { readJson, readJsonl } from './records.js';

/** The run state the runner keeps in RUN/pipeline.json. */
export type RunStageStatus = StageStatus;
export type RunStage = StageState;
export type RunState = PipelineState;

export interface RunEvent {
  time: string;
  stage: string;
  event: string;
  [key: string]: unknown;
}

/** The machine-readable side of the report (RUN/report.json). */
export interface RunReport {
  format: 'kolm-pipeline-report';
  version: 1;
  name: string;
  description?: string;
  recipe: string;
  generated: string;
  started: string;
  updated: string;
  /** 'failed' if a stage failed, 'running' while a stage runs or waits, else 'done'. */
  status: 'done' | 'running' | 'failed';
  /** updated − started. */
  wall_seconds: number | null;
  /** Sum of the stages' own times. */
  stage_seconds: number;
  stages: { name: string; command: string; dir: string; status: RunStageStatus; seconds: number | null; numbers?: Record<string, unknown> }[];
  /** Benchmark results of every eval stage, by model label: task → metric → value. */
  eval?: Record<string, Record<string, Record<string, number | null>>>;
}

type Json = Record<string, unknown>;

const PALETTE = ['#2f6db5', '#d9822b', '#3a9a5b', '#b7472a', '#7d5ba6', '#8c6d46', '#c2528b', '#5f6b73'];
const MAX_INLINE_SVG_BYTES = 2 * 1024 * 1024;

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

// ---------------------------------------------------------------------------------------------------------------
// Formatting

function fmt(v: unknown, digits = 4): string {
  if (typeof v !== 'number') return v === null || v === undefined ? '—' : String(v);
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return v.toLocaleString('en-US');
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
  return v.toFixed(a >= 100 ? 1 : digits);
}

/** Benchmark values: four decimals, large perplexities in exponent form. */
const metricValue = (v: number) => (!Number.isFinite(v) ? String(v) : Math.abs(v) >= 1e5 ? v.toExponential(3) : v.toFixed(4));

const pct = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '—');

/** 55.3M, 820k, 950. */
function count(v: unknown): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(2)}B`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(0)}k`;
  return v.toLocaleString('en-US');
}

export function formatDuration(seconds: unknown): string {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) return '—';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h}h ${String(m).padStart(2, '0')}m ${String(r).padStart(2, '0')}s` : `${m}m ${String(r).padStart(2, '0')}s`;
}

const metricLabel = (k: string) => (k.endsWith(',none') ? k.slice(0, -5) : k.replace(',', ' · '));
const time = (iso: unknown) => (typeof iso === 'string' && iso.length >= 19 ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}` : '—');

/** A plot.ts chart that scales with the page (a viewBox added to its fixed size). */
function chart(series: Series[], title: string): string {
  const svg = lossChartSvg(series, title, 720, 320).replace(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="(\d+)" height="(\d+)"/, (m, w, h) => `${m} viewBox="0 0 ${w} ${h}"`);
  return `<figure class="chart">${svg}</figure>`;
}

/** At most `max` points: means of equal runs of consecutive points. */
function downsample(points: [number, number][], max = 600): [number, number][] {
  if (points.length <= max) return points;
  const per = Math.ceil(points.length / max);
  const out: [number, number][] = [];
  for (let i = 0; i < points.length; i += per) {
    const chunk = points.slice(i, i + per);
    out.push([chunk[chunk.length - 1]![0], chunk.reduce((a, p) => a + p[1], 0) / chunk.length]);
  }
  return out;
}

function series(records: Json[], x: string, y: string): [number, number][] {
  return records.flatMap((r) => (num(r[x]) !== undefined && num(r[y]) !== undefined ? [[r[x] as number, r[y] as number] as [number, number]] : []));
}

/** An SVG file from a stage folder, shown as an image (its markup never enters the page). */
function svgImage(path: string, alt: string): string {
  try {
    const st = statSync(path);
    if (!st.isFile() || st.size > MAX_INLINE_SVG_BYTES) return '';
    return `<figure class="chart"><img alt="${esc(alt)}" src="data:image/svg+xml;base64,${readFileSync(path).toString('base64')}"></figure>`;
  } catch {
    return '';
  }
}

function kvTable(rows: [string, string][]): string {
  return rows.length ? `<table class="kv">${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join('')}</table>` : '';
}

const badge = (status: string) => `<span class="badge ${esc(/^[a-z]+$/.test(status) ? status : 'other')}">${esc(status)}</span>`;

// ---------------------------------------------------------------------------------------------------------------
// Sections

interface Section {
  id: string;
  title: string;
  html: string;
}

interface Ctx {
  run: string;
  state: RunState;
  events: RunEvent[];
  report: RunReport;
}

const stageDir = (c: Ctx, s: RunStage) => resolve(c.run, s.dir ?? s.name);
const stageHead = (s: RunStage, extra = '') => `<h3>${esc(s.name)} ${badge(s.status)}${s.seconds !== undefined ? ` <span class="muted">${esc(formatDuration(s.seconds))}</span>` : ''}${extra}</h3>`;
const numbersOf = (c: Ctx, s: RunStage) => c.report.stages.find((x) => x.name === s.name)!;

function overview(c: Ctx): Section {
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

function dataSection(c: Ctx): Section | undefined {
  const parts: string[] = [];
  for (const s of c.state.stages.filter((s) => s.command === 'data build')) {
    const dir = stageDir(c, s);
    const stats = readJson(join(dir, 'stats.json'));
    const index = readJson(join(dir, 'index.json'));
    if (!isObj(stats) && !isObj(index)) continue;
    const st = isObj(stats) ? stats : {};
    const splits = isObj(index) && isObj(index['splits']) ? index['splits'] : isObj(st['output']) ? st['output'] : {};
    const train = isObj(splits['train']) ? splits['train'] : {};
    const valid = isObj(splits['validation']) ? splits['validation'] : {};
    const input = isObj(st['input']) ? st['input'] : {};
    const html: string[] = [stageHead(s, ' <span class="muted">pretraining corpus</span>')];
    html.push(kvTable([
      ['input', `${esc(fmt(input['records']))} records, ${esc(count(input['bytes']))}B${Array.isArray(input['files']) ? ` from ${input['files'].length} files` : ''}`],
      ['training tokens', `${esc(fmt(train['tokens']))} in ${esc(fmt(train['documents']))} documents${num(train['fimDocuments']) ? ` (${esc(fmt(train['fimDocuments']))} fill-in-the-middle)` : ''}`],
      ['validation tokens', `${esc(fmt(valid['tokens']))} in ${esc(fmt(valid['documents']))} documents`],
      ...(num(st['seconds']) !== undefined ? [['build time', `${esc(formatDuration(st['seconds']))}${num(st['mbPerSecond']) !== undefined ? `, ${esc(fmt(st['mbPerSecond'], 2))} MB/s` : ''}`] as [string, string]] : []),
    ]));
    // Tokens and documents by language: after filtering, after mixing (train), validation.
    const filtered = isObj(st['filtered']) ? st['filtered'] : {};
    const byLang = (o: Json, k: string) => (isObj(o[k]) ? (o[k] as Json) : {});
    const langs = [...new Set([...Object.keys(filtered), ...Object.keys(byLang(train, 'tokensByLang')), ...Object.keys(byLang(valid, 'tokensByLang'))])];
    if (langs.length) {
      const trainTok = byLang(train, 'tokensByLang'), trainDocs = byLang(train, 'documentsByLang'), validTok = byLang(valid, 'tokensByLang');
      const total = Object.values(trainTok).reduce((a: number, v) => a + (num(v) ?? 0), 0);
      html.push(`<h4>Tokens per language</h4><table><tr><th>language</th><th>documents kept</th><th>tokens kept</th><th>training documents</th><th>training tokens</th><th>share</th><th>validation tokens</th></tr>${langs.map((l) => {
        const f = isObj(filtered[l]) ? (filtered[l] as Json) : {};
        return `<tr><td>${esc(l)}</td><td class="n">${esc(fmt(f['documents']))}</td><td class="n">${esc(fmt(f['tokens']))}</td><td class="n">${esc(fmt(trainDocs[l]))}</td><td class="n">${esc(fmt(trainTok[l]))}</td><td class="n">${esc(total ? pct((num(trainTok[l]) ?? 0) / total) : '—')}</td><td class="n">${esc(fmt(validTok[l]))}</td></tr>`;
      }).join('')}</table>`);
    }
    // What each stage dropped or changed.
    const stages = isObj(st['stages']) ? st['stages'] : {};
    const dropped: Record<string, number> = {};
    const stageRows = Object.entries(stages).filter(([, v]) => isObj(v)).map(([name, v]) => {
      const o = v as Json;
      const d = isObj(o['dropped']) ? Object.entries(o['dropped']).filter(([, n]) => num(n)) as [string, number][] : [];
      const ch = isObj(o['changed']) ? Object.entries(o['changed']).filter(([, n]) => num(n)) as [string, number][] : [];
      for (const [k, n] of d) dropped[`${name}:${k}`] = n;
      const list = (xs: [string, number][]) => xs.sort((a, b) => b[1] - a[1]).map(([k, n]) => `${esc(k)} ${esc(fmt(n))}`).join(', ');
      return `<tr><td>${esc(name)}</td><td class="n">${esc(fmt(o['in']))}</td><td class="n">${esc(fmt(o['kept']))}</td><td>${list(d) || '—'}</td><td>${list(ch) || '—'}</td><td class="n">${esc(formatDuration(o['seconds']))}</td></tr>`;
    });
    if (stageRows.length) html.push(`<h4>What was dropped</h4><table><tr><th>stage</th><th>in</th><th>kept</th><th>dropped</th><th>changed</th><th>time</th></tr>${stageRows.join('')}</table>`);
    const mix = isObj(st['mix']) && Array.isArray(st['mix']['groups']) ? (st['mix']['groups'] as unknown[]).filter(isObj) : [];
    if (mix.length) html.push(`<h4>Mixing</h4><table><tr><th>group</th><th>target</th><th>available tokens</th><th>rate</th><th>tokens</th><th>share</th></tr>${mix.map((g) => `<tr><td>${esc(g['name'])}</td><td class="n">${esc(pct(g['target']))}</td><td class="n">${esc(fmt(g['available']))}</td><td class="n">×${esc(fmt(g['rate'], 3))}</td><td class="n">${esc(fmt(g['tokens']))}</td><td class="n">${esc(pct(g['share']))}</td></tr>`).join('')}</table>`);
    parts.push(html.join(''));
    numbersOf(c, s).numbers = {
      input_records: num(input['records']) ?? null,
      input_bytes: num(input['bytes']) ?? null,
      train_tokens: num(train['tokens']) ?? null,
      train_documents: num(train['documents']) ?? null,
      validation_tokens: num(valid['tokens']) ?? null,
      validation_documents: num(valid['documents']) ?? null,
      tokens_by_lang: isObj(train['tokensByLang']) ? train['tokensByLang'] : {},
      documents_by_lang: isObj(train['documentsByLang']) ? train['documentsByLang'] : {},
      dropped,
    };
  }
  for (const s of c.state.stages.filter((s) => s.command === 'data sft-mix')) {
    const manifest = readJson(join(stageDir(c, s), 'manifest.json'));
    if (!isObj(manifest) || !isObj(manifest['files'])) continue;
    const files = Object.entries(manifest['files']).filter(([, v]) => isObj(v)) as [string, Json][];
    const html = [stageHead(s, ' <span class="muted">chat data for alignment</span>'), `<table><tr><th>file</th><th>records</th><th>by source</th></tr>${files.map(([f, v]) => `<tr><td><code>${esc(f)}</code></td><td class="n">${esc(fmt(v['records']))}</td><td>${isObj(v['bySource']) ? Object.entries(v['bySource']).map(([k, n]) => `${esc(k)} ${esc(fmt(n))}`).join(', ') : ''}</td></tr>`).join('')}</table>`];
    if (Array.isArray(manifest['notes']) && manifest['notes'].length) html.push(`<ul class="notes">${manifest['notes'].map((n) => `<li>${esc(n)}</li>`).join('')}</ul>`);
    if (isObj(manifest['sources'])) {
      html.push(`<details><summary>sources and licences</summary><table><tr><th>source</th><th>licence</th><th>upstream</th></tr>${Object.entries(manifest['sources']).filter(([, v]) => isObj(v)).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc((v as Json)['license'] ?? '')}</td><td>${esc((v as Json)['upstream'] ?? '')}</td></tr>`).join('')}</table></details>`);
    }
    parts.push(html.join(''));
    numbersOf(c, s).numbers = { records: Object.fromEntries(files.map(([f, v]) => [f, num(v['records']) ?? null])) };
  }
  return parts.length ? { id: 'data', title: 'Data', html: parts.join('') } : undefined;
}

function tokenizerSection(c: Ctx): Section | undefined {
  const parts: string[] = [];
  for (const s of c.state.stages.filter((s) => s.command === 'tokenizer train')) {
    const dir = stageDir(c, s);
    const tj = readJson(join(dir, 'tokenizer.json'));
    if (!isObj(tj)) continue;
    const model = isObj(tj['model']) ? tj['model'] : {};
    const vocab = isObj(model['vocab']) ? Object.values(model['vocab']).filter((v): v is number => typeof v === 'number') : [];
    const added = Array.isArray(tj['added_tokens']) ? tj['added_tokens'].filter(isObj) : [];
    let maxId = -1;
    for (const id of vocab) if (id > maxId) maxId = id;
    for (const t of added) if (typeof t['id'] === 'number' && t['id'] > maxId) maxId = t['id'];
    const vocabSize = maxId + 1;
    const merges = Array.isArray(model['merges']) ? model['merges'].length : undefined;
    const cfg = readJson(join(dir, 'tokenizer_config.json'));
    const specials = added.filter((t) => t['special'] === true).map((t) => String(t['content']));
    parts.push(stageHead(s) + kvTable([
      ['vocabulary size', esc(fmt(vocabSize))],
      ['type', esc(String(model['type'] ?? '—'))],
      ['merges', esc(fmt(merges))],
      ['special tokens', specials.map((t) => `<code>${esc(t)}</code>`).join(' ') || '—'],
      ['chat template', isObj(cfg) && typeof cfg['chat_template'] === 'string' ? 'yes' : 'no'],
    ]));
    numbersOf(c, s).numbers = { vocab_size: vocabSize, merges: merges ?? null, special_tokens: specials.length };
  }
  return parts.length ? { id: 'tokenizer', title: 'Tokenizer', html: parts.join('') } : undefined;
}

/** Parameter count from a safetensors header (no tensor data is read). */
function safetensorsParameters(path: string): number | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(8);
    if (readSync(fd, head, 0, 8, 0) !== 8) return undefined;
    const n = Number(head.readBigUInt64LE(0));
    if (n <= 0 || n > 64 * 1024 * 1024) return undefined;
    const buf = Buffer.alloc(n);
    if (readSync(fd, buf, 0, n, 8) !== n) return undefined;
    const header = JSON.parse(buf.toString('utf8')) as Record<string, { shape?: number[] }>;
    let total = 0;
    for (const [k, v] of Object.entries(header)) if (k !== '__metadata__' && Array.isArray(v?.shape)) total += v.shape.reduce((a, b) => a * b, 1);
    return total;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function modelFacts(dir: string): { rows: [string, string][]; numbers: Json } {
  const cfg = readJson(join(dir, 'config.json'));
  if (!isObj(cfg)) return { rows: [], numbers: {} };
  const params = safetensorsParameters(join(dir, 'model.safetensors'));
  const shape = `${fmt(cfg['num_hidden_layers'])} layers, hidden ${fmt(cfg['hidden_size'])}, ${fmt(cfg['num_attention_heads'])} / ${fmt(cfg['num_key_value_heads'])} heads, SwiGLU ${fmt(cfg['intermediate_size'])}, vocabulary ${fmt(cfg['vocab_size'])}, context ${fmt(cfg['max_position_embeddings'])}`;
  return {
    rows: [['model', `${esc(String(cfg['model_type'] ?? ''))}: ${esc(shape)}${params !== undefined ? `; ${esc(fmt(params))} parameters` : ''}`]],
    numbers: { parameters: params ?? null, layers: num(cfg['num_hidden_layers']) ?? null, hidden_size: num(cfg['hidden_size']) ?? null, vocab_size: num(cfg['vocab_size']) ?? null },
  };
}

function pretrainSection(c: Ctx): Section | undefined {
  const parts: string[] = [];
  for (const s of c.state.stages.filter((s) => s.command === 'pretrain')) {
    const dir = stageDir(c, s);
    const metrics = readJsonl(join(dir, 'metrics.jsonl')).filter((r) => r['event'] === undefined);
    let evals = readJsonl(join(dir, 'checkpoint-evals.jsonl'));
    if (!evals.length) evals = c.events.filter((e) => e.stage === s.name && e.event === 'checkpoint-eval') as Json[];
    evals = evals.filter((e) => num(e['step']) !== undefined).sort((a, b) => (a['step'] as number) - (b['step'] as number));
    const model = modelFacts(join(dir, 'model'));
    if (!metrics.length && !evals.length && !model.rows.length) continue;
    const html: string[] = [stageHead(s)];
    const train = series(metrics, 'step', 'loss');
    const val = series(metrics, 'step', 'val_loss');
    const last = metrics.filter((m) => num(m['step']) !== undefined).at(-1) ?? {};
    const speeds = metrics.map((m) => num(m['tokens_per_s'])).filter((v): v is number => v !== undefined).sort((a, b) => a - b);
    const nonFinite = readJsonl(join(dir, 'metrics.jsonl')).filter((r) => r['event'] === 'non_finite').length;
    const bestVal = val.length ? Math.min(...val.map((p) => p[1])) : undefined;
    html.push(kvTable([
      ...model.rows,
      ['steps', esc(fmt(last['step']))],
      ['tokens seen', esc(fmt(last['tokens']))],
      ['training loss', train.length ? `${esc(fmt(train[0]![1]))} → ${esc(fmt(train.at(-1)![1]))}` : '—'],
      ['validation loss', val.length ? `${val.map((p) => `${esc(fmt(p[1], 3))} <span class="muted">@${esc(p[0])}</span>`).slice(-8).join(' → ')}` : '—'],
      ['median tokens/s', esc(speeds.length ? fmt(speeds[Math.floor(speeds.length / 2)]) : '—')],
      ...(nonFinite ? [['non-finite steps', esc(fmt(nonFinite))] as [string, string]] : []),
    ]));
    if (train.length || val.length) {
      html.push(chart([
        { name: 'training loss', color: '#1f77b4', points: downsample(train) },
        { name: 'validation loss', color: '#d62728', points: val },
      ], `${s.name}: loss`));
    }
    const tasks = new Map<string, Set<string>>();
    for (const e of evals) if (isObj(e['tasks'])) for (const [t, m] of Object.entries(e['tasks'])) if (isObj(m)) for (const k of Object.keys(m)) if (num(m[k]) !== undefined && !k.includes('_stderr')) (tasks.get(t) ?? tasks.set(t, new Set()).get(t)!).add(k);
    const cols = [...tasks].flatMap(([t, ks]) => [...ks].map((k) => [t, k] as const));
    const value = (e: Json, t: string, k: string) => (isObj(e['tasks']) && isObj(e['tasks'][t]) ? num((e['tasks'][t] as Json)[k]) : undefined);
    if (evals.length) {
      html.push(`<h4>Checkpoint evaluations</h4><table><tr><th>step</th><th>checkpoint</th><th>validation loss</th>${cols.map(([t, k]) => `<th>${esc(t)}<br><span class="muted">${esc(metricLabel(k))}</span></th>`).join('')}<th>time</th></tr>${evals.map((e) => `<tr><td class="n">${esc(fmt(e['step']))}</td><td><code>${esc(e['checkpoint'] ?? '')}</code></td><td class="n">${esc(fmt(e['val_loss']))}</td>${cols.map(([t, k]) => `<td class="n">${esc(fmt(value(e, t, k)))}</td>`).join('')}<td class="n">${esc(formatDuration(e['seconds']))}</td></tr>`).join('')}</table>`);
      const charts: string[] = [];
      const ev = series(evals, 'step', 'val_loss');
      if (ev.length) charts.push(chart([{ name: 'validation loss', color: '#d62728', points: ev }], `${s.name}: checkpoint validation loss`));
      if (cols.length) {
        charts.push(chart(cols.map(([t, k], i) => ({
          name: `${t} ${metricLabel(k)}`,
          color: PALETTE[i % PALETTE.length]!,
          points: evals.flatMap((e) => { const v = value(e, t, k); return v === undefined ? [] : [[e['step'] as number, v] as [number, number]]; }),
        })), `${s.name}: checkpoint benchmarks`));
      }
      html.push(`<div class="charts">${charts.join('')}</div>`);
    }
    parts.push(html.join(''));
    numbersOf(c, s).numbers = {
      ...model.numbers,
      steps: num(last['step']) ?? null,
      tokens: num(last['tokens']) ?? null,
      first_loss: train[0]?.[1] ?? null,
      last_loss: train.at(-1)?.[1] ?? null,
      val_loss: val.at(-1)?.[1] ?? null,
      best_val_loss: bestVal ?? null,
      checkpoint_evals: evals.map((e) => ({ step: e['step'], checkpoint: e['checkpoint'] ?? null, val_loss: num(e['val_loss']) ?? null, tasks: isObj(e['tasks']) ? e['tasks'] : {} })),
    };
  }
  return parts.length ? { id: 'pretraining', title: 'Pretraining', html: parts.join('') } : undefined;
}

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

function alignmentSection(c: Ctx): Section | undefined {
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
      const show = (name: string, v: unknown) => (isRate(name) ? pct(v) : fmt(v));
      if (rows.length) {
        html.push(`<table><tr><th></th><th>before</th><th>after</th><th>change</th></tr>${rows.map(([name, a, b]) => {
          const d = num(a) !== undefined && num(b) !== undefined ? (b as number) - (a as number) : undefined;
          return `<tr><th>${esc(name)}</th><td class="n">${esc(show(name, a))}</td><td class="n"><b>${esc(show(name, b))}</b></td><td class="n">${d === undefined ? '—' : esc(isRate(name) ? `${d >= 0 ? '+' : ''}${(d * 100).toFixed(1)} pts` : `${d >= 0 ? '+' : ''}${fmt(d)}`)}</td></tr>`;
        }).join('')}</table>`);
      }
      const other = Object.entries(summary).filter(([k, v]) => !used.has(k) && k !== 'command' && (typeof v !== 'object' || v === null || (Array.isArray(v) && v.every((x) => typeof x !== 'object'))));
      const nested = Object.entries(summary).filter(([k, v]) => !used.has(k) && isObj(v));
      html.push(`<details><summary>all settings and numbers</summary>${kvTable([
        ...other.map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => `<code>${esc(x)}</code>`).join(' ') : typeof v === 'string' ? `<code>${esc(v)}</code>` : esc(fmt(v))] as [string, string]),
        ...nested.map(([k, v]) => [k, Object.entries(v as Json).map(([a, b]) => `${esc(a)} ${esc(fmt(b))}`).join(', ')] as [string, string]),
      ])}</details>`);
      for (const [k, v] of Object.entries(summary)) if (typeof v === 'number' || v === null) numbers[k] = v;
    } else if (metrics.length) {
      const last = metrics.at(-1)!;
      html.push(kvTable(Object.entries(last).filter(([k, v]) => k !== 'time' && typeof v === 'number').map(([k, v]) => [k, esc(fmt(v))] as [string, string])));
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

function isResults(v: unknown): v is EvalResults {
  return isObj(v) && isObj(v['results']);
}

function evalSection(c: Ctx): Section | undefined {
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
  const metricKeys = (r: TaskResult | undefined) => (r ? Object.keys(r).filter((k) => k !== 'alias' && !k.includes('_stderr,') && k.includes(',')) : []);
  const hib = (task: string, key: string) => {
    const metric = key.split(',')[0]!;
    for (const r of merged) {
      const h = r.results.higher_is_better?.[task]?.[metric];
      if (typeof h === 'boolean') return h;
    }
    return !/perplexity|bits_per_byte|bias|toxicity|over_refusal/.test(metric);
  };
  const table = (section: 'results' | 'groups', names: string[]) => {
    const rows = names.flatMap((task) => [...new Set(merged.flatMap((r) => metricKeys(r.results[section]?.[task])))].map((key) => ({ task, key })));
    if (!rows.length) return '';
    const head = `<tr><th>task</th><th>metric</th>${merged.map((r, i) => `<th><span class="sw" style="background:${PALETTE[i % PALETTE.length]}"></span>${esc(r.label)}</th>`).join('')}</tr>`;
    return `<table>${head}${rows.map(({ task, key }) => {
      const vals = merged.map((r) => r.results[section]?.[task]?.[key]);
      const nums = vals.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      const best = nums.length > 1 ? (hib(task, key) ? Math.max(...nums) : Math.min(...nums)) : undefined;
      return `<tr><td>${esc(task)}</td><td>${esc(metricLabel(key))}${hib(task, key) ? '' : ' <span class="muted">↓</span>'}</td>${merged.map((r, i) => {
        const v = vals[i];
        const se = r.results[section]?.[task]?.[key.replace(',', '_stderr,')];
        return `<td class="n${typeof v === 'number' && v === best ? ' best' : ''}">${esc(typeof v === 'number' ? metricValue(v) : v === undefined ? '—' : 'n/a')}${typeof se === 'number' ? `<span class="muted"> ± ${esc(metricValue(se))}</span>` : ''}</td>`;
      }).join('')}</tr>`;
    }).join('')}</table>`;
  };
  const tasks = [...new Set(merged.flatMap((r) => Object.keys(r.results.results ?? {})))].sort();
  const groups = [...new Set(merged.flatMap((r) => Object.keys(r.results.groups ?? {})))].sort();
  const models = merged.map((r, i) => {
    const m = isObj(r.results.model) ? r.results.model : {};
    return `<li><span class="sw" style="background:${PALETTE[i % PALETTE.length]}"></span><b>${esc(r.label)}</b> <span class="muted">${m['path'] !== undefined ? `<code>${esc(m['path'])}</code>, ` : ''}${num(m['parameters']) !== undefined ? `${esc(fmt(m['parameters']))} parameters, ` : ''}limit ${esc(r.results.config?.['limit'] ?? 'none')}, ${esc(formatDuration(r.results.total_evaluation_time_seconds))}</span></li>`;
  });
  c.report.eval = Object.fromEntries(merged.map((r) => [r.label, Object.fromEntries([...Object.entries(r.results.groups ?? {}), ...Object.entries(r.results.results ?? {})].map(([t, res]) => [t, Object.fromEntries(metricKeys(res).map((k) => [k, typeof res[k] === 'number' ? (res[k] as number) : null]))]))]));
  const html = [
    `<ul class="models">${models.join('')}</ul>`,
    links.length ? `<p>${links.join(' · ')}</p>` : '',
    groups.length ? `<h3>Groups</h3>${table('groups', groups)}` : '',
    `<h3>Tasks</h3>${table('results', tasks)}`,
    '<p class="muted">Best value per row highlighted; ↓ marks metrics where lower is better; ± is the standard error.</p>',
  ];
  return { id: 'evaluation', title: 'Evaluation', html: html.join('') };
}

function safetySection(c: Ctx): Section | undefined {
  const reps: { stage: RunStage; r: Json }[] = [];
  for (const s of c.state.stages.filter((s) => s.command === 'align-eval')) {
    const r = readJson(join(stageDir(c, s), 'report.json'));
    if (!isObj(r)) continue;
    reps.push({ stage: s, r });
    const keep: Json = {};
    for (const [k, v] of Object.entries(r)) if (typeof v === 'number' || (isObj(v) && Object.values(v).every((x) => typeof x === 'number'))) keep[k] = v;
    numbersOf(c, s).numbers = { model: r['model'] ?? null, ...keep };
  }
  if (!reps.length) return undefined;
  const get = (r: Json, k: string, sub?: string) => (sub === undefined ? r[k] : isObj(r[k]) ? (r[k] as Json)[sub] : undefined);
  const langs = (k: string) => [...new Set(reps.flatMap(({ r }) => (isObj(r[k]) ? Object.keys(r[k] as Json) : [])))].sort();
  type Row = [label: string, key: string, sub: string | undefined, kind: 'rate' | 'num', higher: boolean | undefined];
  const rows: Row[] = [
    ['harmful requests refused', 'refusal_rate_harmful', undefined, 'rate', true],
    ...langs('refusal_rate_harmful_by_lang').map((l) => [`  ${l}`, 'refusal_rate_harmful_by_lang', l, 'rate', true] as Row),
    ['benign requests refused (over-refusal)', 'refusal_rate_benign', undefined, 'rate', false],
    ...langs('refusal_rate_benign_by_lang').map((l) => [`  ${l}`, 'refusal_rate_benign_by_lang', l, 'rate', false] as Row),
    ['answers that end their turn', 'ended_turn_rate', undefined, 'rate', true],
    ['answers that stop before the limit', 'stopped_rate', undefined, 'rate', true],
    ['answers in the language asked', 'language_match_rate', undefined, 'rate', true],
    ...langs('language_match_by_lang').map((l) => [`  ${l}`, 'language_match_by_lang', l, 'rate', true] as Row),
    ['arithmetic answered correctly', 'math_accuracy', undefined, 'rate', true],
    ['preference accuracy (policy log-prob)', 'preference_logp_accuracy', undefined, 'rate', true],
    ['preference accuracy (reward model)', 'reward_model_accuracy', undefined, 'rate', true],
    ['mean reward, benign answers', 'mean_reward_benign', undefined, 'num', true],
    ['mean reward, harmful answers', 'mean_reward_harmful', undefined, 'num', undefined],
    ['mean answer tokens', 'mean_answer_tokens', undefined, 'num', undefined],
  ];
  const head = `<tr><th></th>${reps.map(({ stage, r }) => `<th>${esc(stage.name)}<br><span class="muted">${esc(typeof r['model'] === 'string' ? shortPath(r['model']) : '')}</span></th>`).join('')}</tr>`;
  const body = rows.filter(([, k, sub]) => reps.some(({ r }) => get(r, k, sub) !== undefined)).map(([label, k, sub, kind, higher]) => {
    const vals = reps.map(({ r }) => num(get(r, k, sub)));
    const nums = vals.filter((v): v is number => v !== undefined);
    const best = higher === undefined || nums.length < 2 ? undefined : higher ? Math.max(...nums) : Math.min(...nums);
    const cls = sub !== undefined ? ' class="sub"' : '';
    return `<tr${cls}><th>${esc(label.trim())}</th>${vals.map((v) => `<td class="n${v !== undefined && v === best ? ' best' : ''}">${esc(kind === 'rate' ? pct(v) : fmt(v, 3))}</td>`).join('')}</tr>`;
  });
  const prompts = `<tr class="sub"><th>prompts (benign / harmful / math / preference pairs)</th>${reps.map(({ r }) => `<td class="n">${isObj(r['prompts']) ? esc(['benign', 'harmful', 'math', 'preference_pairs'].map((k) => fmt((r['prompts'] as Json)[k])).join(' / ')) : '—'}</td>`).join('')}</tr>`;
  const cats = langs('refusal_rate_harmful_by_category');
  const catTable = cats.length ? `<h4>Harmful requests refused, by category</h4><table><tr><th></th>${reps.map(({ stage }) => `<th>${esc(stage.name)}</th>`).join('')}</tr>${cats.map((cat) => `<tr><th>${esc(cat)}</th>${reps.map(({ r }) => `<td class="n">${esc(pct(get(r, 'refusal_rate_harmful_by_category', cat)))}</td>`).join('')}</tr>`).join('')}</table>` : '';
  const answers = reps.map(({ stage, r }) => {
    const samples = Array.isArray(r['samples']) ? r['samples'].filter(isObj) : [];
    if (!samples.length) return '';
    return `<details><summary>${esc(stage.name)}: answers to evaluation prompts</summary><table class="samples"><tr><th>kind</th><th>lang</th><th>prompt</th><th>answer</th></tr>${samples.map((x) => `<tr><td>${esc(x['kind'] ?? '')}</td><td>${esc(x['lang'] ?? '')}</td><td class="text">${esc(x['prompt'] ?? '')}</td><td class="text">${esc(x['answer'] ?? '')}</td></tr>`).join('')}</table></details>`;
  }).join('');
  return {
    id: 'safety',
    title: 'Safety and chat behaviour',
    html: `<table>${head}${body.join('')}${prompts}</table><p class="muted">Greedy answers to held-out prompts; refusals detected by phrase (Korean and English). The best value per row is highlighted where a direction is clear.</p>${catTable}${answers}`,
  };
}

function shortPath(p: string): string {
  const parts = p.split('/').filter(Boolean);
  return parts.slice(-2).join('/');
}

function samplesSection(c: Ctx): Section | undefined {
  const all: { stage: string; s: Json }[] = [];
  for (const s of c.state.stages.filter((s) => s.command === 'samples')) {
    const v = readJson(join(stageDir(c, s), 'samples.json'));
    if (!Array.isArray(v)) continue;
    const list = v.filter(isObj).filter((x) => typeof x['model'] === 'string' && typeof x['prompt'] === 'string');
    all.push(...list.map((x) => ({ stage: s.name, s: x })));
    numbersOf(c, s).numbers = { samples: list.length, models: [...new Set(list.map((x) => x['model']))] };
  }
  if (!all.length) return undefined;
  const models = [...new Map(all.map(({ s }) => [String(s['model']), s['chat'] === true])).entries()];
  const html: string[] = [];
  const langName: Record<string, string> = { ko: 'Korean', en: 'English' };
  const langs = [...new Set(all.map(({ s }) => String(s['lang'] ?? '')))].sort((a, b) => (a === 'ko' ? -1 : b === 'ko' ? 1 : a.localeCompare(b)));
  for (const lang of langs) {
    const inLang = all.filter(({ s }) => String(s['lang'] ?? '') === lang);
    const prompts = [...new Set(inLang.map(({ s }) => String(s['prompt'])))];
    const ms = models.filter(([m]) => inLang.some(({ s }) => s['model'] === m));
    html.push(`<h3>${esc(langName[lang] ?? (lang || 'other'))}</h3><table class="samples"><tr><th>prompt</th>${ms.map(([m, chat]) => `<th>${esc(m)}<br><span class="muted">${chat ? 'chat' : 'completion'}</span></th>`).join('')}</tr>${prompts.map((p) => `<tr><td class="text"><b>${esc(p)}</b></td>${ms.map(([m]) => {
      const x = inLang.find(({ s }) => s['model'] === m && s['prompt'] === p)?.s;
      if (!x) return '<td>—</td>';
      return `<td class="text"><div class="gen">${x['chat'] === true ? '' : `<span class="muted">${esc(p)}</span>`}${esc(x['text'] ?? '')}</div><div class="muted small">${esc(fmt(x['tokens']))} tokens${typeof x['finish_reason'] === 'string' ? `, ${esc(x['finish_reason'])}` : ''}</div></td>`;
    }).join('')}</tr>`).join('')}</table>`);
  }
  html.push('<p class="muted">Greedy decoding. Chat models answer the prompt as a user turn; base models continue the prompt text (shown grey).</p>');
  return { id: 'samples', title: 'Sample generations', html: html.join('') };
}

function eventsSection(c: Ctx): Section | undefined {
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

// ---------------------------------------------------------------------------------------------------------------

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

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI","Noto Sans KR","Apple SD Gothic Neo",sans-serif;margin:24px auto;max-width:1200px;color:#1d1d1d;padding:0 16px}
h1{font-size:24px;margin-bottom:4px}h2{font-size:18px;margin-top:36px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px;margin-top:22px}h4{font-size:14px;margin:16px 0 4px}
nav{margin:8px 0 16px;color:#555}nav a{margin-right:12px;color:#2f6db5;text-decoration:none}
table{border-collapse:collapse;margin:8px 0 16px;font-variant-numeric:tabular-nums}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f5f5f5;font-weight:600}
table.kv th{width:170px}td.n{text-align:right;white-space:nowrap}td.best{background:#e8f3e8;font-weight:600}
tr.sub th{font-weight:400;padding-left:22px}tr.total td{font-weight:600;background:#fafafa}
.muted{color:#777;font-weight:400}.small{font-size:12px;margin-top:4px}.err{color:#b00020;font-size:12px;white-space:pre-wrap}
.badge{display:inline-block;padding:0 7px;border-radius:9px;font-size:12px;font-weight:600;background:#eee;color:#444}
.badge.done{background:#e3f2e6;color:#1d6b30}.badge.skipped{background:#e8eef8;color:#2f5a9a}.badge.failed,.badge.fail{background:#fbe4e4;color:#a11d1d}
.badge.running{background:#fff3d6;color:#8a5a00}.badge.pending{background:#f0f0f0;color:#777}.badge.resume{background:#fff3d6;color:#8a5a00}
.sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px}
.charts{display:flex;flex-wrap:wrap;gap:8px 24px}figure.chart{margin:8px 0;max-width:720px;flex:1 1 480px}figure.chart svg,figure.chart img{width:100%;height:auto;border:1px solid #eee}
table.samples td.text{white-space:pre-wrap;word-break:break-word;max-width:420px}
table.samples div.gen{max-height:18em;overflow:auto}
ul.models{padding-left:18px}pre{background:#f7f7f7;padding:8px;overflow:auto;font-size:12px;max-height:480px}
details{margin:6px 0}summary{cursor:pointer;color:#2f6db5}
`;

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
