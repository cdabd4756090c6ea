/**
 * Recipes: a YAML or JSON file naming the stages of a run — each a kolm command with its options — in the order they
 * run. `${name}` in an option is the output folder of the stage `name` (which makes it a dependency), a recipe
 * variable (`vars`, overridable with `--var name=value`), `${recipe}` (the recipe file's folder) or `${run}` (the run
 * folder).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { KolmError } from '../util/errors.js';
import { COMMANDS } from './stages.js';

export type Value = string | number | boolean | null | Value[] | { [k: string]: Value };

export interface WatchSpec {
  /** Validation loss of each checkpoint on this corpus (default: the stage's `data` option) at this length. */
  validate?: { seq: number; batches?: number; batch?: number; data?: string };
  /** Quick evaluation tasks (names as `kolm eval --tasks`) on each checkpoint. */
  tasks?: string[];
  limit?: number;
  'data-dir'?: string;
  /** Folders of more task definitions (as `kolm eval --include-path`). */
  'include-path'?: string;
}

export interface StageSpec {
  run: string;
  with: Record<string, Value>;
  /** Stages that must finish first besides those named in `${…}`. */
  needs: string[];
  watch?: WatchSpec;
}

export interface Recipe {
  name: string;
  description?: string;
  path: string;
  vars: Record<string, string>;
  stages: Map<string, StageSpec>;
}

const NAME = /^[a-z][a-z0-9-]*$/;
const BUILTIN_VARS = new Set(['recipe', 'run']);

export function loadRecipe(path: string, overrides: Record<string, string> = {}): Recipe {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new KolmError(`recipe ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new KolmError(`recipe ${path}: not valid ${/\.json$/i.test(path) ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  return parseRecipe(raw, resolve(path), overrides);
}

export function parseRecipe(raw: unknown, path: string, overrides: Record<string, string> = {}): Recipe {
  const where = (field: string) => `recipe ${path}: ${field}`;
  if (!isObject(raw)) throw new KolmError(`recipe ${path}: expected a mapping at the top level`);
  const known = new Set(['name', 'description', 'vars', 'stages']);
  for (const k of Object.keys(raw)) if (!known.has(k)) throw new KolmError(where(`unknown field '${k}' (expected ${[...known].join(', ')})`));
  const name = raw['name'];
  if (typeof name !== 'string' || !name) throw new KolmError(where(`'name' must be a non-empty string`));
  const vars: Record<string, string> = {};
  if (raw['vars'] !== undefined) {
    if (!isObject(raw['vars'])) throw new KolmError(where(`'vars' must be a mapping`));
    for (const [k, v] of Object.entries(raw['vars'])) {
      if (typeof v !== 'string' && typeof v !== 'number') throw new KolmError(where(`vars.${k} must be a string or number`));
      vars[k] = String(v);
    }
  }
  for (const [k, v] of Object.entries(overrides)) {
    if (!(k in vars)) throw new KolmError(`--var ${k}: the recipe has no variable '${k}' (it has ${Object.keys(vars).join(', ') || 'none'})`);
    vars[k] = v;
  }
  if (!isObject(raw['stages']) || !Object.keys(raw['stages']).length) throw new KolmError(where(`'stages' must be a non-empty mapping`));
  const stages = new Map<string, StageSpec>();
  for (const [stage, spec] of Object.entries(raw['stages'])) {
    const at = (f: string) => where(`stages.${stage}${f ? `.${f}` : ''}`);
    if (!NAME.test(stage)) throw new KolmError(at('') + `: stage names are lower-case letters, digits and '-'`);
    if (stage in vars || BUILTIN_VARS.has(stage)) throw new KolmError(at('') + `: the name is also a variable`);
    if (!isObject(spec)) throw new KolmError(at('') + ': expected a mapping');
    for (const k of Object.keys(spec)) if (!['run', 'with', 'needs', 'watch'].includes(k)) throw new KolmError(at(k) + ': unknown field (expected run, with, needs, watch)');
    const run = spec['run'];
    if (typeof run !== 'string' || !COMMANDS[run]) throw new KolmError(at('run') + `: unknown command '${String(run)}' (one of: ${Object.keys(COMMANDS).join(', ')})`);
    const args = spec['with'] ?? {};
    if (!isObject(args)) throw new KolmError(at('with') + ': expected a mapping of options');
    const needs = spec['needs'] ?? [];
    if (!Array.isArray(needs) || needs.some((n) => typeof n !== 'string')) throw new KolmError(at('needs') + ': expected a list of stage names');
    const watch = spec['watch'];
    if (watch !== undefined) checkWatch(watch, at('watch'), run);
    stages.set(stage, { run, with: args as Record<string, Value>, needs: needs as string[], watch: watch as WatchSpec | undefined });
  }
  const recipe: Recipe = { name, description: typeof raw['description'] === 'string' ? raw['description'] : undefined, path, vars, stages };
  for (const [stage, spec] of stages) {
    const earlier = new Set([...stages.keys()].slice(0, [...stages.keys()].indexOf(stage)));
    for (const dep of dependencies(recipe, stage)) {
      if (!stages.has(dep)) throw new KolmError(where(`stages.${stage} refers to '${dep}', which is neither a stage nor a variable`));
      if (!earlier.has(dep)) throw new KolmError(where(`stages.${stage} needs '${dep}', which must come before it`));
    }
    COMMANDS[spec.run]!.check?.(spec.with, (f) => where(`stages.${stage}.with.${f}`));
  }
  return recipe;
}

function checkWatch(watch: unknown, at: string, run: string): void {
  if (run !== 'pretrain') throw new KolmError(`${at}: only pretrain stages can be watched`);
  if (!isObject(watch)) throw new KolmError(`${at}: expected a mapping`);
  const v = watch['validate'];
  if (v !== undefined && (!isObject(v) || typeof v['seq'] !== 'number')) throw new KolmError(`${at}.validate: expected {seq: N, batches?: N, data?: DIR}`);
  const t = watch['tasks'];
  if (t !== undefined && (!Array.isArray(t) || t.some((x) => typeof x !== 'string'))) throw new KolmError(`${at}.tasks: expected a list of task names`);
}

/** Names of the stages `stage` depends on: `${…}` references to stages anywhere in its options, plus `needs`. */
export function dependencies(recipe: Recipe, stage: string): string[] {
  const spec = recipe.stages.get(stage)!;
  const out = new Set(spec.needs);
  const visit = (v: Value | undefined) => {
    if (typeof v === 'string') {
      for (const m of v.matchAll(/\$\{([^}]+)\}/g)) if (!(m[1]! in recipe.vars) && !BUILTIN_VARS.has(m[1]!)) out.add(m[1]!);
    } else if (Array.isArray(v)) v.forEach(visit);
    else if (isObject(v)) Object.values(v).forEach((x) => visit(x as Value));
  };
  visit(spec.with as Value);
  visit(spec.watch as Value | undefined);
  return [...out];
}

/** Replace `${…}` references; `lookup` gives each name's text (stage folders, variables, recipe, run). */
export function interpolate<T extends Value | undefined>(v: T, lookup: (name: string) => string): T {
  if (typeof v === 'string') return v.replace(/\$\{([^}]+)\}/g, (_, n: string) => lookup(n)) as T;
  if (Array.isArray(v)) return v.map((x) => interpolate(x, lookup)) as T;
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interpolate(x as Value, lookup)])) as T;
  return v;
}

export function recipeDir(recipe: Recipe): string {
  return dirname(recipe.path);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
