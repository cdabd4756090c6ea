/**
 * What every section of the run report shares: the run context, reading helpers for JSON of unknown shape, and the
 * small HTML pieces (tables of facts, status badges, charts).
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { lossChartSvg, type Series } from '../../train/plot.js';
import { escapeHtml as esc, formatDuration } from '../../util/format.js';
import type { PipelineState, StageState, StageStatus } from '../runner.js';

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

export type Json = Record<string, unknown>;

export const PALETTE = ['#2f6db5', '#d9822b', '#3a9a5b', '#b7472a', '#7d5ba6', '#8c6d46', '#c2528b', '#5f6b73'];
const MAX_INLINE_SVG_BYTES = 2 * 1024 * 1024;

export const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
export const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** "acc,none" → "acc", "exact_match,strict" → "exact_match · strict". */
export const metricLabel = (k: string) => (k.endsWith(',none') ? k.slice(0, -5) : k.replace(',', ' · '));
/** An ISO time as "YYYY-MM-DD HH:MM:SS" (UTC, as the runner writes it). */
export const time = (iso: unknown) => (typeof iso === 'string' && iso.length >= 19 ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}` : '—');

/** A plot.ts chart that scales with the page (a viewBox added to its fixed size). */
export function chart(series: Series[], title: string): string {
  const svg = lossChartSvg(series, title, 720, 320).replace(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="(\d+)" height="(\d+)"/, (m, w, h) => `${m} viewBox="0 0 ${w} ${h}"`);
  return `<figure class="chart">${svg}</figure>`;
}

/** At most `max` points: means of equal runs of consecutive points. */
export function downsample(points: [number, number][], max = 600): [number, number][] {
  if (points.length <= max) return points;
  const per = Math.ceil(points.length / max);
  const out: [number, number][] = [];
  for (let i = 0; i < points.length; i += per) {
    const chunk = points.slice(i, i + per);
    out.push([chunk[chunk.length - 1]![0], chunk.reduce((a, p) => a + p[1], 0) / chunk.length]);
  }
  return out;
}

/** (x, y) points of the records that have both fields as finite numbers. */
export function series(records: Json[], x: string, y: string): [number, number][] {
  return records.flatMap((r) => (num(r[x]) !== undefined && num(r[y]) !== undefined ? [[r[x] as number, r[y] as number] as [number, number]] : []));
}

/** An SVG file from a stage folder, shown as an image (its markup never enters the page). */
export function svgImage(path: string, alt: string): string {
  try {
    const st = statSync(path);
    if (!st.isFile() || st.size > MAX_INLINE_SVG_BYTES) return '';
    return `<figure class="chart"><img alt="${esc(alt)}" src="data:image/svg+xml;base64,${readFileSync(path).toString('base64')}"></figure>`;
  } catch {
    return '';
  }
}

/** A two-column table of facts; values are HTML already, keys are escaped. */
export function kvTable(rows: [string, string][]): string {
  return rows.length ? `<table class="kv">${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join('')}</table>` : '';
}

/** A status as a coloured badge (unknown statuses get the neutral style). */
export const badge = (status: string) => `<span class="badge ${esc(/^[a-z]+$/.test(status) ? status : 'other')}">${esc(status)}</span>`;

/** One section of the page: its anchor, its heading and its HTML. */
export interface Section {
  id: string;
  title: string;
  html: string;
}

/** What a section reads (the run folder, its state and events) and where it leaves its key numbers. */
export interface Ctx {
  run: string;
  state: RunState;
  events: RunEvent[];
  report: RunReport;
}

/** A stage's folder, its heading (name, status, time) and its entry in report.json. */
export const stageDir = (c: Ctx, s: RunStage) => resolve(c.run, s.dir ?? s.name);
export const stageHead = (s: RunStage, extra = '') => `<h3>${esc(s.name)} ${badge(s.status)}${s.seconds !== undefined ? ` <span class="muted">${esc(formatDuration(s.seconds))}</span>` : ''}${extra}</h3>`;
export const numbersOf = (c: Ctx, s: RunStage) => c.report.stages.find((x) => x.name === s.name)!;
