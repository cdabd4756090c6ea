/** Writes a built mix: the JSONL files, manifest.json (records, sha256 and sources per file) and README.md. */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { writeFileAtomic, writeFolderAtomic } from '../../util/atomic.js';
import type { MixManifest } from './types.js';

/**
 * Write every file into a temp folder next to `out`, then rename it into place (replacing an old mix only once the
 * new one is complete). Fills `manifest.files` with each file's record count, sha256 and records per source.
 */
export async function writeMixFolder(out: string, files: Record<string, unknown[]>, manifest: MixManifest): Promise<void> {
  await writeFolderAtomic(out, async (tmp) => {
    for (const [name, records] of Object.entries(files)) {
      const text = records.map((x) => JSON.stringify(x)).join('\n') + (records.length ? '\n' : '');
      await writeFileAtomic(join(tmp, name), text);
      const bySource: Record<string, number> = {};
      for (const x of records as { source: string }[]) bySource[x.source] = (bySource[x.source] ?? 0) + 1;
      const sorted = Object.fromEntries(Object.entries(bySource).sort(([a], [b]) => a.localeCompare(b)));
      manifest.files[name] = { records: records.length, sha256: createHash('sha256').update(text).digest('hex'), bySource: sorted };
    }
    await writeFileAtomic(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    await writeFileAtomic(join(tmp, 'README.md'), mixReadme(manifest));
  });
}

/** The mix's README.md: sources with licences, files with records per source, and how the data was made. */
export function mixReadme(m: MixManifest): string {
  const lines = [
    '# kolm alignment data mix',
    '',
    `Built by \`kolm data sft-mix\` with seed ${m.seed} (validation share ${m.validFraction}). Rebuilding with the same sources, counts and seed gives byte-identical files (sha256 in manifest.json).`,
    '',
    '## Sources',
    '',
    '| source | licence | upstream | files |',
    '|---|---|---|---|',
    ...Object.entries(m.sources).map(([k, s]) => `| ${k} | ${s.license} | ${s.upstream} | ${s.files.map((f) => `\`${f}\``).join(', ') || '—'} |`),
    '',
    '## Files',
    '',
    '| file | records | by source |',
    '|---|---:|---|',
    ...Object.entries(m.files).map(([f, x]) => `| \`${f}\` | ${x.records} | ${Object.entries(x.bySource).map(([s, n]) => `${s} ${n}`).join(', ')} |`),
    '',
    '## Notes',
    '',
    ...m.notes.map((n) => `- ${n}`),
    '- Generated safety data: harmful requests in eight risk categories (violence, hate, sexual content, self-harm, illegal acts, privacy, misinformation, fraud) with refusals/redirects as chosen answers and compliant openings (no operational detail) as rejected ones; `eval/harmful.jsonl` uses request templates that no training file uses.',
    '- Benign requests that only sound sensitive ("kill a process", "cut an onion") are trained with helpful answers and preferred over needless refusals.',
    '- Synthetic negatives: `arithmetic-wrong` (wrong final number), `translation-untranslated` (the source copied back), `chatbot-offtopic` (an answer to another question).',
    '',
  ];
  return lines.join('\n');
}
