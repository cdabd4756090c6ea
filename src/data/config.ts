/**
 * Corpus build configuration (JSON). Paths are relative to the config file. Every section is optional except
 * `sources` and `tokenizer`; omitted settings take the defaults below, unknown keys are errors (to catch typos).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { KolmError } from '../util/errors.js';
import { defaultNormalize, type NormalizeOptions } from './normalize.js';
import { defaultLangId, type LangIdOptions } from '../text/language.js';
import { defaultQuality, type QualityOptions } from './quality.js';
import { defaultPii, type PiiOptions } from './pii.js';
import { defaultSafety, type SafetyOptions } from './safety.js';
import { defaultDedup, type DedupOptions } from './dedup.js';
import { defaultMix, groupIndex, type MixOptions } from './mix.js';
import { defaultFim, type FimOptions } from './fim.js';
import type { InputFormat, TextSplit } from './sources.js';
import { LANGS, type Lang } from './types.js';

export interface GroupOptions {
  /** Join consecutive records whose value of this field is equal (e.g. reviews of one movie). */
  by?: string;
  /** Use only the first match of this regular expression in the field value as the key (e.g. "^[^#]*"). */
  keyPattern?: string;
  /** Or join every N consecutive records. */
  every?: number;
  /** Start a new document once this many characters are collected. */
  maxChars?: number;
}

export interface SourceConfig {
  name: string;
  /** File(s) or directories (all files below, sorted). */
  path: string | string[];
  format?: InputFormat;
  /** Text field (default "text"). */
  field?: string;
  /** Several text fields joined by a newline, e.g. ["en", "ko"] for parallel pairs. */
  fields?: string[];
  /** With several fields: drop records whose fields are all equal (untranslated pairs). Default true. */
  dropIdentical?: boolean;
  /** Plain text: one document per file, line, or blank-line separated paragraph. */
  split?: TextSplit;
  /** A fixed label, or "auto" to identify it per document (default). */
  lang?: 'auto' | Lang;
  /** Sampling weight relative to other sources of the same language (up-sample knowledge-rich data). */
  weight?: number;
  group?: GroupOptions;
  /** Read at most this many records (quick runs). */
  limit?: number;
  /** Informational: the source's licence, copied into stats. */
  license?: string;
}

export interface DataConfig {
  seed: number;
  /** Directory of a kolm tokenizer (tokenizer.json); `kolm data build --tokenizer` may give it instead. */
  tokenizer?: string;
  sources: SourceConfig[];
  normalize: NormalizeOptions;
  langid: LangIdOptions;
  quality: QualityOptions;
  pii: PiiOptions;
  safety: SafetyOptions;
  dedup: Omit<DedupOptions, 'seed'>;
  mix: MixOptions;
  fim: FimOptions;
  shards: { maxTokens: number };
}

const { seed: _dedupSeed, ...dedupDefaults } = defaultDedup;
const SECTIONS = {
  normalize: defaultNormalize, langid: defaultLangId, quality: defaultQuality, pii: defaultPii, safety: defaultSafety,
  dedup: { ...dedupDefaults, bands: undefined }, mix: { ...defaultMix, totalTokens: undefined }, fim: defaultFim,
  shards: { maxTokens: 1 << 28 },
};
const SOURCE_KEYS = ['name', 'path', 'format', 'field', 'fields', 'dropIdentical', 'split', 'lang', 'weight', 'group', 'limit', 'license'];
const GROUP_KEYS = ['by', 'keyPattern', 'every', 'maxChars'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(obj: Record<string, unknown>, allowed: string[], where: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw new KolmError(`${where}: unknown key "${k}" (allowed: ${allowed.join(', ')})`);
  }
}

/** Check a parsed config object, fill in defaults and make paths absolute (relative to `baseDir`). */
export function resolveConfig(raw: unknown, baseDir: string, where = 'config'): DataConfig {
  if (!isObject(raw)) throw new KolmError(`${where}: expected a JSON object`);
  checkKeys(raw, ['seed', 'tokenizer', 'sources', ...Object.keys(SECTIONS)], where);
  if (!Array.isArray(raw.sources) || raw.sources.length === 0) throw new KolmError(`${where}: "sources" must be a non-empty array`);
  const names = new Set<string>();
  const sources = raw.sources.map((s, i) => {
    const at = `${where}: sources[${i}]`;
    if (!isObject(s)) throw new KolmError(`${at}: expected an object`);
    checkKeys(s, SOURCE_KEYS, at);
    if (typeof s.name !== 'string' || !s.name) throw new KolmError(`${at}: "name" must be a non-empty string`);
    if (names.has(s.name)) throw new KolmError(`${at}: duplicate source name "${s.name}"`);
    names.add(s.name);
    const paths = typeof s.path === 'string' ? [s.path] : s.path;
    if (!Array.isArray(paths) || !paths.length || paths.some((p) => typeof p !== 'string')) {
      throw new KolmError(`${at}: "path" must be a string or an array of strings`);
    }
    if (s.lang !== undefined && s.lang !== 'auto' && !LANGS.includes(s.lang as Lang)) {
      throw new KolmError(`${at}: "lang" must be auto or one of ${LANGS.join(', ')}`);
    }
    if (s.format !== undefined && !['jsonl', 'text', 'parquet'].includes(s.format as string)) {
      throw new KolmError(`${at}: "format" must be jsonl, text or parquet`);
    }
    if (s.weight !== undefined && !(typeof s.weight === 'number' && s.weight > 0)) throw new KolmError(`${at}: "weight" must be a positive number`);
    if (s.field !== undefined && typeof s.field !== 'string') throw new KolmError(`${at}: "field" must be a string`);
    if (s.fields !== undefined && !(Array.isArray(s.fields) && s.fields.length && s.fields.every((f) => typeof f === 'string'))) {
      throw new KolmError(`${at}: "fields" must be a non-empty array of strings`);
    }
    if (s.group !== undefined) {
      if (!isObject(s.group)) throw new KolmError(`${at}.group: expected an object`);
      checkKeys(s.group, GROUP_KEYS, `${at}.group`);
      if (s.group.by === undefined && s.group.every === undefined && s.group.maxChars === undefined) {
        throw new KolmError(`${at}.group: give "by", "every" or "maxChars"`);
      }
      if (s.group.keyPattern !== undefined) {
        try {
          new RegExp(s.group.keyPattern as string);
        } catch (e) {
          throw new KolmError(`${at}.group.keyPattern: ${(e as Error).message}`);
        }
      }
    }
    return { ...s, path: paths.map((p: string) => resolve(baseDir, p)) } as SourceConfig;
  });
  if (raw.tokenizer !== undefined && typeof raw.tokenizer !== 'string') throw new KolmError(`${where}: "tokenizer" must be the path of a tokenizer directory`);
  const out: Record<string, unknown> = { seed: raw.seed ?? 0, tokenizer: raw.tokenizer === undefined ? undefined : resolve(baseDir, raw.tokenizer), sources };
  if (!Number.isInteger(out.seed)) throw new KolmError(`${where}: "seed" must be an integer`);
  for (const [name, defaults] of Object.entries(SECTIONS)) {
    const user = raw[name] ?? {};
    if (!isObject(user)) throw new KolmError(`${where}: "${name}" must be an object`);
    checkKeys(user, Object.keys(defaults), `${where}: ${name}`);
    for (const [k, v] of Object.entries(user)) {
      const d = (defaults as Record<string, unknown>)[k];
      if (d !== undefined && v !== null && typeof d !== typeof v) throw new KolmError(`${where}: ${name}.${k} must be a ${Array.isArray(d) ? 'list' : typeof d}`);
    }
    out[name] = { ...defaults, ...user };
  }
  const cfg = out as unknown as DataConfig;
  groupIndex(cfg.mix.targets);
  if (cfg.safety.lexiconDir) cfg.safety.lexiconDir = resolve(baseDir, cfg.safety.lexiconDir);
  return cfg;
}

export function loadConfig(file: string): DataConfig {
  if (/\.ya?ml$/i.test(file)) {
    throw new KolmError(`${file}: YAML configs are not supported (kolm has no YAML parser dependency); write the same structure as JSON`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new KolmError(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (e as Error).message}`);
  }
  return resolveConfig(raw, dirname(resolve(file)), file);
}
