/** Pretraining: the model's shape and size, loss curves, throughput and the evaluations of its checkpoints. */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_HEADER_BYTES, parseSafetensorsHeader } from '../../formats/safetensors.js';
import { escapeHtml as esc, formatDuration, formatNumber } from '../../util/format.js';
import { readJson, readJsonl } from '../records.js';
import { PALETTE, isObj, num, kvTable, chart, downsample, series, metricLabel, stageDir, stageHead, numbersOf, type Json, type Section, type Ctx } from './common.js';

/**
 * Parameter count from a safetensors header, parsed and checked against the file size by formats/safetensors (no
 * tensor data is read). The report renders synchronously, so the header bytes are read here with sync calls; a file
 * that is missing or not valid safetensors leaves the count out.
 */
function safetensorsParameters(path: string): number | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const prefix = Buffer.alloc(8);
    if (size < 8 || readSync(fd, prefix, 0, 8, 0) !== 8) return undefined;
    const headerBytes = Number(prefix.readBigUInt64LE(0));
    if (headerBytes > Math.min(size - 8, MAX_HEADER_BYTES)) return undefined;
    const json = Buffer.alloc(headerBytes);
    if (readSync(fd, json, 0, headerBytes, 8) !== headerBytes) return undefined;
    const { tensors } = parseSafetensorsHeader(json, size - 8 - headerBytes, path);
    return Object.values(tensors).reduce((total, t) => total + t.shape.reduce((a, b) => a * b, 1), 0);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The model folder's architecture in one line, and its numbers for report.json. */
function modelFacts(dir: string): { rows: [string, string][]; numbers: Json } {
  const cfg = readJson(join(dir, 'config.json'));
  if (!isObj(cfg)) return { rows: [], numbers: {} };
  const params = safetensorsParameters(join(dir, 'model.safetensors'));
  const shape = `${formatNumber(cfg['num_hidden_layers'])} layers, hidden ${formatNumber(cfg['hidden_size'])}, ${formatNumber(cfg['num_attention_heads'])} / ${formatNumber(cfg['num_key_value_heads'])} heads, SwiGLU ${formatNumber(cfg['intermediate_size'])}, vocabulary ${formatNumber(cfg['vocab_size'])}, context ${formatNumber(cfg['max_position_embeddings'])}`;
  return {
    rows: [['model', `${esc(String(cfg['model_type'] ?? ''))}: ${esc(shape)}${params !== undefined ? `; ${esc(formatNumber(params))} parameters` : ''}`]],
    numbers: { parameters: params ?? null, layers: num(cfg['num_hidden_layers']) ?? null, hidden_size: num(cfg['hidden_size']) ?? null, vocab_size: num(cfg['vocab_size']) ?? null },
  };
}

export function pretrainSection(c: Ctx): Section | undefined {
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
      ['steps', esc(formatNumber(last['step']))],
      ['tokens seen', esc(formatNumber(last['tokens']))],
      ['training loss', train.length ? `${esc(formatNumber(train[0]![1]))} → ${esc(formatNumber(train.at(-1)![1]))}` : '—'],
      ['validation loss', val.length ? `${val.map((p) => `${esc(formatNumber(p[1], 3))} <span class="muted">@${esc(p[0])}</span>`).slice(-8).join(' → ')}` : '—'],
      ['median tokens/s', esc(speeds.length ? formatNumber(speeds[Math.floor(speeds.length / 2)]) : '—')],
      ...(nonFinite ? [['non-finite steps', esc(formatNumber(nonFinite))] as [string, string]] : []),
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
      html.push(`<h4>Checkpoint evaluations</h4><table><tr><th>step</th><th>checkpoint</th><th>validation loss</th>${cols.map(([t, k]) => `<th>${esc(t)}<br><span class="muted">${esc(metricLabel(k))}</span></th>`).join('')}<th>time</th></tr>${evals.map((e) => `<tr><td class="n">${esc(formatNumber(e['step']))}</td><td><code>${esc(e['checkpoint'] ?? '')}</code></td><td class="n">${esc(formatNumber(e['val_loss']))}</td>${cols.map(([t, k]) => `<td class="n">${esc(formatNumber(value(e, t, k)))}</td>`).join('')}<td class="n">${esc(formatDuration(e['seconds']))}</td></tr>`).join('')}</table>`);
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
