/**
 * The one parser for numbers given on the command line. Every command reads integer and decimal options through
 * it, so a typo fails at once with the flag and the value named (`--steps must be an integer >= 1 (got "abc")`)
 * instead of running with NaN, or with 0 from an empty string, as bare `Number()` would. The chat commands' JSON
 * options (template keyword arguments, a tools file) are read here too, with the same kind of error.
 */
import { readFileSync } from 'node:fs';
import { checkTemplateKwargs, checkTools } from '../tokenizer/chat-template.js';
import { KolmError } from '../util/errors.js';

export interface NumberBounds {
  min?: number;
  max?: number;
}

/** Plain decimal notation with an optional exponent (1, -2, 0.5, .5, 3e-4); no hex, no Infinity, no blanks. */
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function describe(kind: 'an integer' | 'a number', { min, max }: NumberBounds): string {
  if (min !== undefined && max !== undefined) return `${kind} between ${min} and ${max}`;
  if (min !== undefined) return `${kind} >= ${min}`;
  if (max !== undefined) return `${kind} <= ${max}`;
  return kind;
}

function fail(flag: string, kind: 'an integer' | 'a number', bounds: NumberBounds, raw: string): never {
  throw new KolmError(`--${flag} must be ${describe(kind, bounds)} (got ${JSON.stringify(raw)})`);
}

function parse(flag: string, raw: string, kind: 'an integer' | 'a number', bounds: NumberBounds): number {
  const text = raw.trim();
  const n = DECIMAL.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(n) || (kind === 'an integer' && !Number.isInteger(n))) fail(flag, kind, bounds, raw);
  if ((bounds.min !== undefined && n < bounds.min) || (bounds.max !== undefined && n > bounds.max)) fail(flag, kind, bounds, raw);
  return n;
}

/** `--flag N` as an integer within `bounds`; undefined when the option was not given. `flag` is the name without dashes. */
export function intOption(flag: string, raw: string | undefined, bounds: NumberBounds = {}): number | undefined {
  return raw === undefined ? undefined : parse(flag, raw, 'an integer', bounds);
}

/** `--flag X` as a number within `bounds`; undefined when the option was not given. */
export function numberOption(flag: string, raw: string | undefined, bounds: NumberBounds = {}): number | undefined {
  return raw === undefined ? undefined : parse(flag, raw, 'a number', bounds);
}

/** `--flag N` where the integer is required: `fallback` when absent (as parseArgs defaults would give it). */
export function intOr(flag: string, raw: string | undefined, fallback: number, bounds: NumberBounds = {}): number {
  return intOption(flag, raw, bounds) ?? fallback;
}

/** `--flag X` with a fallback when absent. */
export function numberOr(flag: string, raw: string | undefined, fallback: number, bounds: NumberBounds = {}): number {
  return numberOption(flag, raw, bounds) ?? fallback;
}

const COUNT_SCALE: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9 };

/**
 * A count with an optional k/M/G suffix (powers of 1000): `32k` → 32000, `1.5M` → 1500000 (rounded to an integer).
 * Used where sizes are naturally large (vocabulary sizes, byte limits).
 */
export function countOption(flag: string, raw: string | undefined, bounds: NumberBounds = {}): number | undefined {
  if (raw === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)([kKmMgG]?)$/.exec(raw.trim());
  const n = m ? Math.round(Number(m[1]) * COUNT_SCALE[m[2]!.toLowerCase()]!) : NaN;
  const kind = 'an integer';
  if (!Number.isFinite(n)) throw new KolmError(`--${flag} must be ${describe(kind, bounds)}, optionally with a k/M/G suffix (got ${JSON.stringify(raw)})`);
  if ((bounds.min !== undefined && n < bounds.min) || (bounds.max !== undefined && n > bounds.max)) fail(flag, kind, bounds, raw);
  return n;
}

/** `--flag JSON`: chat template keyword arguments as a JSON object (e.g. `{"force_reasoning": true}`). */
export function templateKwargsOption(flag: string, raw: string | undefined): Record<string, unknown> | undefined {
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new KolmError(`--${flag} must be a JSON object (got ${JSON.stringify(raw)}: ${(err as Error).message})`);
  }
  return checkTemplateKwargs(value, `--${flag}`);
}

/** `--flag FILE.json`: an OpenAI-style tools array read from a file. */
export function toolsOption(flag: string, path: string | undefined): Record<string, unknown>[] | undefined {
  if (path === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new KolmError(`--${flag} ${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new KolmError(`--${flag} ${path}: not valid JSON (${(err as Error).message})`);
  }
  return checkTools(value, `--${flag} ${path}`);
}
