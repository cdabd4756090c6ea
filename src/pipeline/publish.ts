/**
 * Publishing a trained model: an f16 copy of its folder (HF layout, tokenizer and chat template included) with a
 * model card written from the run's own records — data, tokens seen, training time, evaluation tables, limits.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadModelFolder, saveModelFolder } from '../model/folder.js';
import { paramSpecs } from '../model/params.js';
import type { ModelConfig } from '../model/config.js';
import { KolmError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { formatCount, formatPercent } from '../util/format.js';
import type { Value } from './recipe.js';
import { readJson, readJsonl } from './records.js';
import type { BuiltinContext } from './stages.js';
import type { PipelineState } from './runner.js';

export interface PublishOptions {
  /** The model folder to publish. */
  model: string;
  /** Destination folder (replaced atomically). */
  to: string;
  name: string;
  description?: string;
  /** Run stage folders the card reads, by role. */
  corpus?: string;
  pretrain?: string;
  stages?: string[];
  /** `kolm eval --out` folders whose results.json files form the card's evaluation table. */
  eval?: string;
  /** `kolm align-eval` report of this model. */
  alignEval?: string;
  limits?: string;
  run: string;
}

export async function publishStage(args: Record<string, Value>, ctx: BuiltinContext): Promise<void> {
  const str = (k: string) => (typeof args[k] === 'string' ? (args[k] as string) : undefined);
  const stages = Array.isArray(args['stages']) ? args['stages'].map(String) : [];
  const path = await publishModel({
    model: str('model')!, to: str('to')!, name: str('name')!, description: str('description'), corpus: str('corpus'), pretrain: str('pretrain'),
    stages, eval: str('eval'), alignEval: str('align-eval'), limits: str('limits'), run: ctx.run,
  });
  await writeFileAtomic(join(ctx.dir, 'published.json'), JSON.stringify({ to: path }) + '\n');
}

export async function publishModel(o: PublishOptions): Promise<string> {
  if (!existsSync(join(o.model, 'config.json'))) throw new KolmError(`publish: ${o.model} is not a model folder (no config.json)`);
  const { config, weights } = await loadModelFolder(o.model);
  const card = modelCard(o, config, weights);
  const to = resolve(o.to);
  await saveModelFolder(to, config, weights, { dtype: 'F16', tokenizerDir: o.model, extraFiles: { 'README.md': card } });
  return to;
}

function readJsonAs<T>(path: string | undefined): T | undefined {
  return readJson(path) as T | undefined;
}


function modelCard(o: PublishOptions, config: ModelConfig, weights: Record<string, { data: ArrayLike<number> }>): string {
  const params = paramSpecs(config).reduce((s, p) => s + (weights[p.name]?.data.length ?? 0), 0);
  const state = readJsonAs<PipelineState>(join(o.run, 'pipeline.json'));
  const lines: string[] = [`# ${o.name}`, ''];
  if (o.description) lines.push(o.description, '');
  lines.push('## Model', '', '| | |', '|---|---|',
    `| parameters | ${formatCount(params)} (${params.toLocaleString('en')}) |`,
    `| architecture | ${config.architectures?.[0] ?? config.model_type}: ${config.num_hidden_layers} layers, hidden ${config.hidden_size}, SwiGLU ${config.intermediate_size}, ${config.num_attention_heads} query / ${config.num_key_value_heads} key-value heads, RoPE θ ${config.rope_theta}, RMSNorm pre-normalisation${config.tie_word_embeddings ? ', tied embeddings' : ''} |`,
    `| vocabulary | ${config.vocab_size.toLocaleString('en')} tokens (byte-level BPE) |`,
    `| context | ${config.max_position_embeddings} positions |`,
    `| weights | model.safetensors, float16 |`, '');
  type Split = { tokens: number; documents: number; tokensByLang: Record<string, number>; tokensBySource: Record<string, number> };
  const corpus = readJsonAs<{ output: { train: Split; validation: Split } }>(o.corpus && join(o.corpus, 'stats.json'))?.output;
  const metrics = o.pretrain ? (readJsonl(join(o.pretrain, 'metrics.jsonl')) as { step: number; tokens?: number; val_loss?: number; loss: number }[]) : [];
  lines.push('## Training', '');
  const last = metrics.at(-1);
  const val = [...metrics].reverse().find((m) => m.val_loss !== undefined);
  if (last) lines.push(`- Pretraining: ${last.step.toLocaleString('en')} steps, ${formatCount(last.tokens ?? 0)} tokens seen${val ? `; validation loss ${metrics.find((m) => m.val_loss !== undefined)!.val_loss!.toFixed(3)} → ${val.val_loss!.toFixed(3)}` : ''}.`);
  for (const name of o.stages ?? []) {
    const st = state?.stages.find((s) => s.name === name);
    const sum = readJsonAs<Record<string, unknown>>(join(o.run, name, 'summary.json'));
    const seconds = st?.seconds !== undefined ? `, ${(st.seconds / 60).toFixed(1)} min` : '';
    lines.push(`- \`${name}\` (${st?.command ?? '?'}${seconds})${sum ? `: ${summarize(sum)}` : ''}`);
  }
  const total = (o.stages ?? []).reduce((s, n) => s + (state?.stages.find((x) => x.name === n)?.seconds ?? 0), 0);
  if (total) lines.push(`- Training time for these stages: ${(total / 60).toFixed(1)} min on a 2-core CPU (ONNX Runtime).`);
  lines.push('');
  if (corpus) {
    const t = corpus.train;
    const share = (m: Record<string, number>) => Object.entries(m).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${formatCount(n)} (${formatPercent(n / t.tokens)})`).join(', ');
    lines.push('### Pretraining data', '', `${formatCount(t.tokens)} training tokens in ${t.documents.toLocaleString('en')} documents, by language: ${share(t.tokensByLang)}; by source: ${share(t.tokensBySource)}. ` +
      `Held out for validation: ${formatCount(corpus.validation.tokens)} tokens. Sources, licences and every filtering step: the data config named in the recipe, and the corpus's summary.md in a pipeline run.`, '');
  }
  const evalTable = o.eval ? evaluationTable(o.eval) : undefined;
  if (evalTable) lines.push('## Evaluation', '', evalTable, '');
  const align = readJsonAs<Record<string, number | Record<string, number>>>(o.alignEval);
  if (align) {
    const by = (k: string, l: string) => (align[k] as Record<string, number> | undefined)?.[l];
    lines.push('## Chat behaviour (`kolm align-eval`, held-out prompts, greedy)', '', '| ended the turn | answer language matches | refuses harmful (en / ko) | refuses benign | arithmetic | preference accuracy |', '|---|---|---|---|---|---|',
      `| ${formatPercent(align['ended_turn_rate'] as number)} | ${formatPercent(align['language_match_rate'] as number)} | ${formatPercent(align['refusal_rate_harmful'] as number)} (${formatPercent(by('refusal_rate_harmful_by_lang', 'en'))} / ${formatPercent(by('refusal_rate_harmful_by_lang', 'ko'))}) | ${formatPercent(align['refusal_rate_benign'] as number)} | ${formatPercent(align['math_accuracy'] as number)} | ${formatPercent(align['preference_logp_accuracy'] as number)} |`, '');
  }
  lines.push('## Intended use and limits', '', o.limits ?? 'A small research and teaching model: it shows the whole kolm recipe end to end and runs anywhere. It is far too small to be factual or reliable; do not use its answers for anything that matters.', '');
  lines.push('## Reproduce', '', '```sh', `kolm pipeline --recipe ${state ? relativeRecipe(state.recipe) : 'RECIPE'}`, '```', '');
  return lines.join('\n');
}

function relativeRecipe(path: string): string {
  const cwd = process.cwd() + '/';
  return path.startsWith(cwd) ? path.slice(cwd.length) : path;
}

function summarize(sum: Record<string, unknown>): string {
  const keys = ['steps', 'tokens', 'val_loss_before', 'val_loss_after', 'val_accuracy_before', 'val_accuracy_after', 'val_logp_accuracy_before', 'val_logp_accuracy_after', 'eval_score_before', 'eval_score_after'];
  return keys.filter((k) => typeof sum[k] === 'number').map((k) => `${k.replace(/_/g, ' ')} ${Number.isInteger(sum[k]) ? sum[k] : (sum[k] as number).toFixed(3)}`).join(', ');
}

/** One row per (task, metric), one column per evaluated model in `dir` (each `<model>/results.json`). */
export function evaluationTable(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  const models = readdirSync(dir).filter((d) => existsSync(join(dir, d, 'results.json'))).sort();
  if (!models.length) return undefined;
  type Results = { results: Record<string, Record<string, unknown>>; groups?: Record<string, Record<string, unknown>>; model_name?: string };
  const results = models.map((m) => readJsonAs<Results>(join(dir, m, 'results.json'))!);
  const rows = new Map<string, (number | undefined)[]>();
  results.forEach((r, i) => {
    for (const [task, metrics] of Object.entries({ ...r.results, ...(r.groups ?? {}) })) {
      for (const [k, v] of Object.entries(metrics)) {
        if (typeof v !== 'number' || k.includes('_stderr')) continue;
        const key = `${task} | ${k.replace(/,none$/, '')}`;
        if (!rows.has(key)) rows.set(key, new Array(models.length).fill(undefined));
        rows.get(key)![i] = v;
      }
    }
  });
  const head = `| task | metric | ${models.join(' | ')} |\n|---|---|${models.map(() => '---|').join('')}`;
  const body = [...rows.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, vs]) => `| ${k} | ${vs.map((v) => (v === undefined ? '—' : v.toFixed(4))).join(' | ')} |`);
  return [head, ...body].join('\n');
}
