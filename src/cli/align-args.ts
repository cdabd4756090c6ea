/** Argument parsing shared by `kolm sft | rm | dpo | ppo | align-eval`. */
import { parseArgs } from 'node:util';
import { KolmError } from '../util/errors.js';

export interface Parsed {
  str(k: string): string | undefined;
  list(k: string): string[];
  num(k: string): number | undefined;
  int(k: string): number | undefined;
  bool(k: string): boolean;
  help: boolean;
}

/** Parse `argv` with string options `strings` (repeatable ones in `multiple`) and boolean `flags`. */
export function parse(argv: string[], strings: string[], flags: string[] = [], multiple: string[] = []): Parsed {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = { help: { type: 'boolean' } };
  for (const k of strings) options[k] = { type: 'string', ...(multiple.includes(k) ? { multiple: true } : {}) };
  for (const k of flags) options[k] = { type: 'boolean' };
  const { values } = parseArgs({ args: argv, options });
  const v = values as Record<string, string | string[] | boolean | undefined>;
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const num = (k: string) => {
    const s = str(k);
    if (s === undefined) return undefined;
    const n = Number(s);
    if (!Number.isFinite(n)) throw new KolmError(`--${k} must be a number, got '${s}'`);
    return n;
  };
  return {
    str,
    list: (k) => (Array.isArray(v[k]) ? (v[k] as string[]) : typeof v[k] === 'string' ? [v[k] as string] : []).flatMap((s) => s.split(',')).filter(Boolean),
    num,
    int: (k) => {
      const n = num(k);
      if (n !== undefined && !Number.isInteger(n)) throw new KolmError(`--${k} must be an integer, got '${str(k)}'`);
      return n;
    },
    bool: (k) => v[k] === true,
    help: v['help'] === true,
  };
}

export const OPTIM_OPTIONS = ['lr', 'warmup', 'decay', 'min-lr-ratio', 'weight-decay', 'clip'];
export const OPTIM_USAGE = '  --lr LR  --warmup N  --decay cosine|linear|constant  --min-lr-ratio 0.1  --weight-decay 0  --clip 1.0';

export function optim(p: Parsed) {
  const decay = p.str('decay');
  if (decay !== undefined && !['cosine', 'linear', 'constant'].includes(decay)) throw new KolmError(`--decay must be cosine, linear or constant, got '${decay}'`);
  return { lr: p.num('lr'), warmup: p.int('warmup'), decay: decay as 'cosine' | 'linear' | 'constant' | undefined, minLrRatio: p.num('min-lr-ratio'), weightDecay: p.num('weight-decay'), clip: p.num('clip') };
}

/** Print usage and fail when a required option is missing. */
export function requireOptions(p: Parsed, usage: string, required: string[]): boolean {
  if (p.help) {
    console.log(usage);
    return false;
  }
  const missing = required.filter((k) => (p.list(k).length === 0 && p.str(k) === undefined));
  if (missing.length) throw new KolmError(`missing ${missing.map((k) => `--${k}`).join(', ')}\n\n${usage}`);
  return true;
}
