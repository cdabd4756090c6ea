/** The human-readable build report, `summary.md`. */
import type { BuildStats } from './pipeline.js';
import type { ShardIndex } from './shards.js';

import { formatNumber, formatPercent } from '../util/format.js';

const num = (n: number) => formatNumber(Math.round(n));
const counts = (c: Record<string, number>) => Object.entries(c).map(([k, v]) => `${k} ${num(v)}`).join(', ') || '—';

export function renderSummary(stats: BuildStats, index: ShardIndex): string {
  const out: string[] = [];
  out.push('# Corpus build summary', '');
  out.push(`Seed ${stats.seed} · tokenizer ${stats.tokenizer.hash.slice(0, 16)} (vocab ${num(stats.tokenizer.vocabSize)}, ${index.dtype}) · ` +
    `${(stats.input.bytes / 1e6).toFixed(1)} MB of input (${(stats.input.diskBytes / 1e6).toFixed(1)} MB on disk, ${num(stats.input.records)} records) ` +
    `in ${stats.seconds.toFixed(1)} s = **${stats.mbPerSecond.toFixed(2)} MB/s**`, '');

  const threads = stats.workers ? ` (summed over ${stats.workers} worker threads for normalize…tokenize)` : '';
  out.push('## Stages', '', `| stage | in | kept | dropped (reason count) | changes | seconds${threads} |`, '|---|---:|---:|---|---|---:|');
  for (const [name, s] of Object.entries(stats.stages)) {
    out.push(`| ${name} | ${num(s.in)} | ${num(s.kept)} | ${counts(s.dropped)} | ${counts(s.changed)} | ${s.seconds.toFixed(2)} |`);
  }
  if (stats.badInput.length) out.push('', `Bad input skipped (first ${stats.badInput.length}):`, '', ...stats.badInput.map((m) => `- ${m}`));

  out.push('', '## Sources', '', '| source | records | documents | kept | dropped (stage:reason count) |', '|---|---:|---:|---:|---|');
  for (const [name, s] of Object.entries(stats.bySource)) {
    out.push(`| ${name} | ${num(s.records)} | ${num(s.documents)} | ${num(s.kept)} | ${counts(s.dropped)} |`);
  }

  out.push('', '## After filtering (before mixing)', '', '| language | documents | tokens | characters |', '|---|---:|---:|---:|');
  for (const [lang, f] of Object.entries(stats.filtered)) out.push(`| ${lang} | ${num(f.documents)} | ${num(f.tokens)} | ${num(f.chars)} |`);

  out.push('', '## Mixing (training split)', '', `Target total ${num(stats.mix.totalTokens)} tokens.`, '',
    '| group | target | available | rate | tokens | share |', '|---|---:|---:|---:|---:|---:|');
  for (const g of stats.mix.groups) {
    const how = g.rate > 1 ? 'up-sampled' : g.rate < 1 ? 'down-sampled' : 'as is';
    out.push(`| ${g.name} | ${formatPercent(g.target)} | ${num(g.available)} | ×${g.rate.toFixed(3)} (${how}) | ${num(g.tokens)} | ${formatPercent(g.share)} |`);
  }

  out.push('', '## Output', '', '| split | documents | tokens | FIM documents | tokens by language | tokens by source |', '|---|---:|---:|---:|---|---|');
  for (const [split, s] of Object.entries(stats.output)) {
    out.push(`| ${split} | ${num(s.documents)} | ${num(s.tokens)} | ${num(s.fimDocuments)} | ${counts(s.tokensByLang)} | ${counts(s.tokensBySource)} |`);
  }
  out.push('', `Shards: ${index.shards.map((s) => `${s.file} (${num(s.tokens)} tokens)`).join(', ')}`, '');
  return out.join('\n');
}
