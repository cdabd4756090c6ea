/** HF post-processors for single sequences: TemplateProcessing (BOS/EOS as the file says), ByteLevel, Sequence. */
import type { JsonReader } from './json.js';

/** Adds the special tokens around one encoded sequence. */
export type PostProcessor = (ids: number[]) => number[];

export const POST_PROCESSORS = ['TemplateProcessing', 'ByteLevel', 'Sequence'] as const;

export function buildPostProcessor(v: unknown, field: string, r: JsonReader): PostProcessor | undefined {
  if (v == null) return undefined;
  const o = r.obj(v, field);
  const type = r.type(o, field, POST_PROCESSORS);
  if (type === 'ByteLevel') return undefined; // offsets only
  if (type === 'Sequence') {
    const list = r
      .arr(o.processors, `${field}.processors`)
      .map((p, i) => buildPostProcessor(p, `${field}.processors[${i}]`, r))
      .filter((p): p is PostProcessor => p !== undefined);
    if (list.length === 0) return undefined;
    return (ids) => list.reduce((acc, p) => p(acc), ids);
  }
  const specials = r.obj(o.special_tokens ?? {}, `${field}.special_tokens`);
  const single = r.arr(o.single, `${field}.single`);
  const before: number[] = [];
  const after: number[] = [];
  let seen = false;
  single.forEach((piece, i) => {
    const p = r.obj(piece, `${field}.single[${i}]`);
    if (p.Sequence) {
      if (seen) r.fail(`${field}.single[${i}]`, 'repeats the sequence');
      seen = true;
      return;
    }
    const special = r.obj(p.SpecialToken, `${field}.single[${i}].SpecialToken`);
    const name = r.str(special.id, `${field}.single[${i}].SpecialToken.id`);
    const entry = r.obj(specials[name], `${field}.special_tokens[${JSON.stringify(name)}]`);
    const ids = r.arr(entry.ids, `${field}.special_tokens[${JSON.stringify(name)}].ids`) as number[];
    (seen ? after : before).push(...ids);
  });
  if (!seen) r.fail(`${field}.single`, 'has no Sequence');
  return (ids) => [...before, ...ids, ...after];
}
