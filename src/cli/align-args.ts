/** Argument parsing shared by `kolm sft | rm | dpo | ppo | align-eval`. */
import { parseArgs } from 'node:util';
import { KolmError } from '../util/errors.js';
import { intOption, numberOption, templateKwargsOption, type NumberBounds } from './args.js';

export interface Parsed {
  str(k: string): string | undefined;
  list(k: string): string[];
  num(k: string, bounds?: NumberBounds): number | undefined;
  int(k: string, bounds?: NumberBounds): number | undefined;
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
  return {
    str,
    list: (k) => (Array.isArray(v[k]) ? (v[k] as string[]) : typeof v[k] === 'string' ? [v[k] as string] : []).flatMap((s) => s.split(',')).filter(Boolean),
    num: (k, bounds) => numberOption(k, str(k), bounds),
    int: (k, bounds) => intOption(k, str(k), bounds),
    bool: (k) => v[k] === true,
    help: v['help'] === true,
  };
}

export const OPTIM_OPTIONS = ['lr', 'warmup', 'decay', 'min-lr-ratio', 'weight-decay', 'clip'];
export const OPTIM_USAGE = '  --lr LR  --warmup N  --decay cosine|linear|constant  --min-lr-ratio 0.1  --weight-decay 0  --clip 1.0';

export function optim(p: Parsed) {
  const decay = p.str('decay');
  if (decay !== undefined && !['cosine', 'linear', 'constant'].includes(decay)) throw new KolmError(`--decay must be cosine, linear or constant, got '${decay}'`);
  return {
    lr: p.num('lr', { min: 0 }), warmup: p.int('warmup', { min: 0 }), decay: decay as 'cosine' | 'linear' | 'constant' | undefined,
    minLrRatio: p.num('min-lr-ratio', { min: 0, max: 1 }), weightDecay: p.num('weight-decay', { min: 0 }), clip: p.num('clip', { min: 0 }),
  };
}

export const TEMPLATE_OPTIONS = ['chat-template-kwargs'];
export const TEMPLATE_USAGE = `  --chat-template-kwargs JSON   chat template variables for every record, e.g. '{"force_reasoning": true}'
                           (records may carry "tools": [...], TRL's format, listed by the template)`;

/** The chat template keyword arguments given on the command line. */
export function template(p: Parsed): { chatTemplateKwargs?: Record<string, unknown> } {
  const kwargs = templateKwargsOption('chat-template-kwargs', p.str('chat-template-kwargs'));
  return kwargs ? { chatTemplateKwargs: kwargs } : {};
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
