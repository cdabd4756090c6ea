/**
 * Records → documents: joins multi-field records (parallel pairs), drops untranslated pairs, and groups short
 * consecutive records into one document (reviews of one movie, comments of one thread) so they survive length filters.
 */
import type { SourceConfig } from './config.js';
import { readRecords, type ReadOptions, type SourceRecord } from './sources.js';
import type { StageStats } from './stats.js';
import type { Doc, Lang } from './types.js';

export function textFields(src: SourceConfig): string[] {
  return src.fields ?? [src.field ?? 'text'];
}

/** Documents of one source, in file and record order. `stats` counts records in and documents out. */
export async function* sourceDocuments(
  src: SourceConfig,
  files: string[],
  stats: StageStats,
  readOpts: Omit<ReadOptions, 'fields' | 'metaFields' | 'format' | 'split'>,
): AsyncGenerator<Doc> {
  const fields = textFields(src);
  const group = src.group;
  const metaFields = ['path', 'filename', ...(group?.by ? [group.by] : [])];
  const keyRe = group?.keyPattern ? new RegExp(group.keyPattern) : undefined;
  const declaredLang = src.lang && src.lang !== 'auto' ? (src.lang as Lang) : undefined;
  const dropIdentical = fields.length > 1 && src.dropIdentical !== false;
  let records = 0;

  let parts: string[] = [];
  let chars = 0;
  let key: unknown;
  let first: SourceRecord | undefined;
  const emit = (): Doc | undefined => {
    if (!first) return undefined;
    const doc: Doc = { text: parts.join('\n'), source: src.name, origin: `${first.file}:${first.line}`, declaredLang, meta: first.meta };
    parts = [];
    chars = 0;
    first = undefined;
    stats.kept++;
    return doc;
  };

  for (const file of files) {
    for await (const rec of readRecords(file, { ...readOpts, fields, metaFields, format: src.format, split: src.split })) {
      stats.in++;
      if (dropIdentical && rec.values.every((v) => v === rec.values[0])) {
        stats.drop('identical-fields');
        continue;
      }
      const text = rec.values.join('\n');
      if (!group) {
        first = rec;
        parts = [text];
        yield emit()!;
      } else {
        let k: unknown = group.by ? rec.meta?.[group.by] : undefined;
        if (keyRe && typeof k === 'string') k = keyRe.exec(k)?.[0] ?? k;
        const full = (group.every && parts.length >= group.every) || (group.maxChars && chars >= group.maxChars);
        if (first && (full || (group.by && k !== key))) yield emit()!;
        if (!first) { first = rec; key = k; } else stats.change('records-grouped');
        parts.push(text);
        chars += text.length + 1;
      }
      if (src.limit && ++records >= src.limit) break;
    }
    if (src.limit && records >= src.limit) break;
    // Groups never span files.
    const last = emit();
    if (last) yield last;
  }
  const last = emit();
  if (last) yield last;
}
