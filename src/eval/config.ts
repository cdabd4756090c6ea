/**
 * Task and group definitions as data, in lm-evaluation-harness's YAML dialect: `include` (relative to the file),
 * `!function name` for functions, `task` / `group` / `tag`, the dataset, prompt, few-shot, generation, filter and
 * metric fields. Files are validated when loaded; every error names the file, the field and the offending value.
 * JSON task files are accepted too (`{"!function": "name"}` stands for a function).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseDocument, type Scalar, type Tags } from 'yaml';
import { KolmError } from '../util/errors.js';
import { BUILDERS } from './datasets.js';
import { FUNCTIONS, type EvalFunction } from './functions.js';
import { AGGREGATIONS } from './metrics.js';

/** A `!function name` reference (resolved to a callable when the task is loaded). */
export class FunctionRef {
  constructor(readonly name: string, readonly file: string) {}
  toJSON(): string {
    return `!function ${this.name}`;
  }
}

const functionTag: Tags[number] = {
  tag: '!function',
  identify: (v: unknown) => v instanceof FunctionRef,
  resolve: (str: string) => new FunctionRef(str.trim(), ''),
  stringify: (item: Scalar) => String((item.value as FunctionRef).name),
};

export const OUTPUT_TYPES = ['multiple_choice', 'loglikelihood', 'loglikelihood_rolling', 'generate_until', 'classifier'] as const;
export type OutputType = (typeof OUTPUT_TYPES)[number];

export interface MetricConfig {
  metric: string | FunctionRef;
  aggregation?: string | FunctionRef;
  higher_is_better?: boolean;
  [kwarg: string]: unknown;
}

export interface FilterStep {
  function: string;
  [kwarg: string]: unknown;
}

export interface FewshotConfig {
  sampler?: 'default' | 'first_n';
  samples?: FunctionRef | Record<string, unknown>[];
  split?: string;
  process_docs?: FunctionRef;
  doc_to_text?: unknown;
  doc_to_choice?: unknown;
  doc_to_target?: unknown;
  fewshot_delimiter?: string;
  target_delimiter?: string;
}

export interface TaskConfig {
  task: string;
  task_alias?: string;
  tag?: string[];
  dataset_path: string;
  dataset_name?: string;
  dataset_kwargs?: Record<string, unknown>;
  training_split?: string | null;
  validation_split?: string | null;
  test_split?: string | null;
  fewshot_split?: string | null;
  process_docs?: FunctionRef;
  doc_to_text?: string | number | FunctionRef;
  doc_to_target?: string | number | unknown[] | FunctionRef;
  doc_to_choice?: string | unknown[] | Record<string, unknown> | FunctionRef;
  process_results?: FunctionRef;
  description?: string;
  target_delimiter: string;
  fewshot_delimiter: string;
  fewshot_config?: FewshotConfig;
  num_fewshot?: number;
  output_type: OutputType;
  generation_kwargs?: { until?: string[]; max_gen_toks?: number; do_sample?: boolean; temperature?: number; top_p?: number };
  repeats: number;
  filter_list?: { name: string; filter: FilterStep[] }[];
  metric_list?: MetricConfig[];
  metadata?: Record<string, unknown>;
  unsafe_code?: boolean;
  should_decontaminate?: boolean;
  doc_to_decontamination_query?: string;
}

export interface GroupConfig {
  group: string;
  group_alias?: string;
  task: string[];
  aggregate_metric_list?: { metric: string; aggregation?: string; weight_by_size?: boolean; filter_list?: string | string[] }[];
  metadata?: Record<string, unknown>;
}

export interface TaskEntry {
  kind: 'task';
  name: string;
  file: string;
  config: TaskConfig;
}

export interface GroupEntry {
  kind: 'group';
  name: string;
  file: string;
  config: GroupConfig;
}

const TASK_KEYS = new Set([
  'task', 'task_alias', 'tag', 'dataset_path', 'dataset_name', 'dataset_kwargs', 'training_split', 'validation_split', 'test_split',
  'fewshot_split', 'process_docs', 'doc_to_text', 'doc_to_target', 'doc_to_choice', 'process_results', 'description',
  'target_delimiter', 'fewshot_delimiter', 'fewshot_config', 'num_fewshot', 'output_type', 'generation_kwargs', 'repeats',
  'filter_list', 'metric_list', 'metadata', 'unsafe_code', 'should_decontaminate', 'doc_to_decontamination_query', 'group',
]);
const UNSUPPORTED = new Map([
  ['doc_to_image', 'multimodal tasks are not supported'],
  ['doc_to_audio', 'multimodal tasks are not supported'],
  ['use_prompt', 'promptsource prompts are not supported'],
  ['gen_prefix', 'gen_prefix is not supported'],
  ['custom_dataset', 'custom_dataset is not supported; use dataset_path with local files'],
]);
const GROUP_KEYS = new Set(['group', 'group_alias', 'task', 'aggregate_metric_list', 'metadata']);
const FILTERS = new Set(['regex', 'take_first', 'take_first_k', 'remove_whitespace', 'lowercase', 'uppercase', 'map', 'majority_vote', 'custom', 'strip']);

/** The directory of the tasks shipped with kolm (src/eval/tasks, found from src/ or a compiled dist folder). */
export function builtinTaskDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const c of [join(here, 'tasks'), resolve(here, '..', '..', '..', 'src', 'eval', 'tasks'), resolve(here, '..', '..', 'src', 'eval', 'tasks')]) {
    if (existsSync(c)) return c;
  }
  throw new KolmError(`built-in task definitions not found near ${here} (expected src/eval/tasks)`);
}

function bad(file: string, field: string, message: string, value?: unknown): never {
  const shown = value === undefined ? '' : ` (got ${typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value, (_k, v) => (v instanceof FunctionRef ? `!function ${v.name}` : v))?.slice(0, 200)})`;
  throw new KolmError(`${file}: field '${field}': ${message}${shown}`);
}

/** Parse one YAML/JSON file into a plain object with FunctionRef values (no include resolution). */
export function parseTaskFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new KolmError(`${file}: cannot read task file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let value: unknown;
  if (extname(file) === '.json') {
    try {
      value = JSON.parse(text, (_k, v) => (v && typeof v === 'object' && !Array.isArray(v) && typeof v['!function'] === 'string' ? new FunctionRef(v['!function'], file) : v));
    } catch (e) {
      throw new KolmError(`${file}: invalid JSON: ${(e as Error).message}`);
    }
  } else {
    const doc = parseDocument(text, { customTags: [functionTag], prettyErrors: true });
    if (doc.errors.length) {
      const e = doc.errors[0]!;
      throw new KolmError(`${file}: invalid YAML at line ${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]}`);
    }
    value = doc.toJS();
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new KolmError(`${file}: a task file must be a mapping of fields`);
  const tagFile = (v: unknown): unknown => {
    if (v instanceof FunctionRef) return new FunctionRef(v.name, file);
    if (Array.isArray(v)) return v.map(tagFile);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, tagFile(x)]));
    return v;
  };
  return tagFile(value) as Record<string, unknown>;
}

/** A task file with its `include` chain merged (included first, the including file's fields override). */
export function loadWithIncludes(file: string, seen: string[] = []): Record<string, unknown> {
  if (seen.includes(file)) throw new KolmError(`${file}: include cycle (${[...seen, file].join(' → ')})`);
  const raw = parseTaskFile(file);
  const inc = raw['include'];
  if (inc === undefined) return raw;
  if (typeof inc !== 'string') bad(file, 'include', 'must be a file name', inc);
  const target = resolve(dirname(file), inc);
  if (!existsSync(target)) bad(file, 'include', `file not found: ${target}`, inc);
  const base = loadWithIncludes(target, [...seen, file]);
  const { include: _drop, ...rest } = raw;
  return { ...base, ...rest };
}

const isStr = (v: unknown): v is string => typeof v === 'string';
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

function checkFunction(file: string, field: string, v: unknown): void {
  if (!(v instanceof FunctionRef)) return;
  if (FUNCTIONS.has(v.name)) return;
  // `module.fn` exported by module.js / module.mjs beside the task file
  const mod = v.name.includes('.') ? v.name.slice(0, v.name.lastIndexOf('.')) : '';
  if (mod && ['.js', '.mjs'].some((ext) => existsSync(join(dirname(file), mod + ext)))) return;
  const near = [...FUNCTIONS.keys()].filter((k) => k.split('.').pop() === v.name.split('.').pop());
  bad(file, field, `unknown function${near.length ? ` (did you mean ${near.join(', ')}?)` : ` (built-in functions: ${[...FUNCTIONS.keys()].join(', ')})`}`, `!function ${v.name}`);
}

/** Validate and normalise a merged task mapping. */
export function validateTask(raw: Record<string, unknown>, file: string): TaskConfig {
  for (const k of Object.keys(raw)) {
    if (UNSUPPORTED.has(k)) bad(file, k, UNSUPPORTED.get(k)!);
    if (!TASK_KEYS.has(k)) {
      const close = [...TASK_KEYS].filter((t) => t.replace(/_/g, '').includes(k.replace(/_/g, '').slice(0, 6)) || k.includes(t));
      bad(file, k, `unknown field${close.length ? ` (did you mean ${close.slice(0, 3).join(', ')}?)` : ''}`);
    }
  }
  if (!isStr(raw['task']) || !raw['task']) bad(file, 'task', 'must be a non-empty string', raw['task']);
  const tag = raw['tag'] === undefined ? [] : Array.isArray(raw['tag']) ? raw['tag'] : [raw['tag']];
  if (!tag.every(isStr)) bad(file, 'tag', 'must be a string or a list of strings', raw['tag']);
  const outputType = (raw['output_type'] ?? 'generate_until') as OutputType;
  if (!OUTPUT_TYPES.includes(outputType)) bad(file, 'output_type', `must be one of ${OUTPUT_TYPES.join(', ')}`, raw['output_type']);
  const dp = raw['dataset_path'];
  if (!isStr(dp)) bad(file, 'dataset_path', `must name a local builder (${BUILDERS.join(', ')})`, dp);
  if (!(BUILDERS as readonly string[]).includes(dp)) {
    bad(file, 'dataset_path', dp.includes('/')
      ? `'${dp}' looks like a Hugging Face hub dataset; kolm reads local files: set dataset_path to one of ${BUILDERS.join(', ')} and list the files in dataset_kwargs.data_files`
      : `must be one of ${BUILDERS.join(', ')}`, dp);
  }
  const kw = raw['dataset_kwargs'];
  if (kw !== undefined && (typeof kw !== 'object' || kw === null || Array.isArray(kw))) bad(file, 'dataset_kwargs', 'must be a mapping', kw);
  const files = (kw as Record<string, unknown> | undefined)?.['data_files'];
  if (files === undefined) bad(file, 'dataset_kwargs.data_files', 'is required (the data files, relative to the data directory)');
  if (!(isStr(files) || (Array.isArray(files) && files.every(isStr)) || (typeof files === 'object' && files !== null))) bad(file, 'dataset_kwargs.data_files', 'must be a path, a list of paths or a mapping from split to paths', files);
  if (dp === 'parallel') {
    if (typeof files !== 'object' || Array.isArray(files)) bad(file, 'dataset_kwargs.data_files', 'parallel data needs a mapping from split to {language: file}', files);
    for (const [split, spec] of Object.entries(files as object)) {
      if (typeof spec !== 'object' || spec === null || Array.isArray(spec) || !Object.values(spec).every(isStr)) bad(file, `dataset_kwargs.data_files.${split}`, 'must map language codes to files', spec);
    }
  }
  for (const k of ['training_split', 'validation_split', 'test_split', 'fewshot_split'] as const) {
    const v = raw[k];
    if (v !== undefined && v !== null && !isStr(v)) bad(file, k, 'must be a split name or null', v);
    if (isStr(v) && typeof files === 'object' && !Array.isArray(files) && !(v in (files as object))) {
      bad(file, k, `split '${v}' is not in dataset_kwargs.data_files (splits: ${Object.keys(files as object).join(', ')})`, v);
    }
  }
  if (!raw['test_split'] && !raw['validation_split']) {
    if (typeof files === 'object' && !Array.isArray(files)) bad(file, 'test_split', 'a task needs test_split or validation_split');
  }
  for (const k of ['process_docs', 'process_results'] as const) {
    if (raw[k] !== undefined && !(raw[k] instanceof FunctionRef)) bad(file, k, 'must be a !function reference', raw[k]);
    checkFunction(file, k, raw[k]);
  }
  const dtt = raw['doc_to_text'];
  if (dtt !== undefined && !isStr(dtt) && !isInt(dtt) && !(dtt instanceof FunctionRef)) bad(file, 'doc_to_text', 'must be a field name, a Jinja template, an integer or a !function', dtt);
  checkFunction(file, 'doc_to_text', dtt);
  const dtg = raw['doc_to_target'];
  if (dtg !== undefined && !isStr(dtg) && !isInt(dtg) && !Array.isArray(dtg) && !(dtg instanceof FunctionRef)) bad(file, 'doc_to_target', 'must be a field name, a Jinja template, an integer, a list or a !function', dtg);
  checkFunction(file, 'doc_to_target', dtg);
  const dtc = raw['doc_to_choice'];
  if (dtc !== undefined && !isStr(dtc) && !Array.isArray(dtc) && !(dtc instanceof FunctionRef) && (typeof dtc !== 'object' || dtc === null)) bad(file, 'doc_to_choice', 'must be a field name, a Jinja template, a list, a mapping or a !function', dtc);
  checkFunction(file, 'doc_to_choice', dtc);
  if (outputType === 'multiple_choice' && dtc === undefined) bad(file, 'doc_to_choice', 'is required for output_type multiple_choice');
  if (outputType !== 'classifier' && outputType !== 'loglikelihood_rolling' && dtt === undefined) bad(file, 'doc_to_text', `is required for output_type ${outputType}`);
  if (outputType === 'classifier' && !(raw['process_results'] instanceof FunctionRef)) bad(file, 'process_results', 'output_type classifier needs a process_results function (no model is queried)');
  for (const k of ['target_delimiter', 'fewshot_delimiter', 'description'] as const) {
    if (raw[k] !== undefined && !isStr(raw[k])) bad(file, k, 'must be a string', raw[k]);
  }
  const nf = raw['num_fewshot'];
  if (nf !== undefined && nf !== null && !(isInt(nf) && nf >= 0)) bad(file, 'num_fewshot', 'must be a non-negative integer', nf);
  const repeats = raw['repeats'] ?? 1;
  if (!(isInt(repeats) && repeats >= 1)) bad(file, 'repeats', 'must be a positive integer', repeats);
  const fc = raw['fewshot_config'] as Record<string, unknown> | undefined;
  if (fc !== undefined) {
    if (typeof fc !== 'object' || fc === null || Array.isArray(fc)) bad(file, 'fewshot_config', 'must be a mapping', fc);
    if (fc['sampler'] !== undefined && fc['sampler'] !== 'default' && fc['sampler'] !== 'first_n') bad(file, 'fewshot_config.sampler', "must be 'default' or 'first_n'", fc['sampler']);
    if (fc['samples'] !== undefined && !(fc['samples'] instanceof FunctionRef) && !Array.isArray(fc['samples'])) bad(file, 'fewshot_config.samples', 'must be a list of documents or a !function', fc['samples']);
    checkFunction(file, 'fewshot_config.samples', fc['samples']);
    checkFunction(file, 'fewshot_config.process_docs', fc['process_docs']);
  }
  const gk = raw['generation_kwargs'] as Record<string, unknown> | undefined;
  if (gk !== undefined) {
    if (typeof gk !== 'object' || gk === null || Array.isArray(gk)) bad(file, 'generation_kwargs', 'must be a mapping', gk);
    for (const k of Object.keys(gk)) if (!['until', 'max_gen_toks', 'do_sample', 'temperature', 'top_p', 'max_tokens'].includes(k)) bad(file, `generation_kwargs.${k}`, 'unknown generation setting (until, max_gen_toks, do_sample, temperature, top_p)');
    if (gk['until'] !== undefined && !isStr(gk['until']) && !(Array.isArray(gk['until']) && gk['until'].every(isStr))) bad(file, 'generation_kwargs.until', 'must be a string or a list of strings', gk['until']);
    if (gk['max_gen_toks'] !== undefined && !(isInt(gk['max_gen_toks']) && (gk['max_gen_toks'] as number) > 0)) bad(file, 'generation_kwargs.max_gen_toks', 'must be a positive integer', gk['max_gen_toks']);
    if (gk['temperature'] !== undefined && !(typeof gk['temperature'] === 'number' && gk['temperature'] >= 0)) bad(file, 'generation_kwargs.temperature', 'must be a number >= 0', gk['temperature']);
  }
  const fl = raw['filter_list'];
  if (fl !== undefined) {
    if (!Array.isArray(fl)) bad(file, 'filter_list', 'must be a list of {name, filter}', fl);
    fl.forEach((f, i) => {
      const where = `filter_list[${i}]`;
      if (!f || typeof f !== 'object' || !isStr(f.name)) bad(file, `${where}.name`, 'must be a string', f?.name);
      if (!Array.isArray(f.filter) || !f.filter.length) bad(file, `${where}.filter`, 'must be a non-empty list of filter steps', f.filter);
      f.filter.forEach((s: Record<string, unknown>, j: number) => {
        if (!s || !isStr(s['function']) || !FILTERS.has(s['function'])) bad(file, `${where}.filter[${j}].function`, `must be one of ${[...FILTERS].join(', ')}`, s?.['function']);
        if (s['function'] === 'regex' && s['regex_pattern'] !== undefined && !isStr(s['regex_pattern'])) bad(file, `${where}.filter[${j}].regex_pattern`, 'must be a string', s['regex_pattern']);
        if (s['function'] === 'custom') {
          if (!(s['filter_fn'] instanceof FunctionRef)) bad(file, `${where}.filter[${j}].filter_fn`, 'custom filters need filter_fn: !function name', s['filter_fn']);
          checkFunction(file, `${where}.filter[${j}].filter_fn`, s['filter_fn']);
        }
      });
    });
  }
  const ml = raw['metric_list'];
  if (ml !== undefined) {
    if (!Array.isArray(ml)) bad(file, 'metric_list', 'must be a list of {metric, aggregation, higher_is_better}', ml);
    ml.forEach((m, i) => {
      if (!m || typeof m !== 'object' || m.metric === undefined) bad(file, `metric_list[${i}].metric`, "'metric' key not provided");
      if (!isStr(m.metric) && !(m.metric instanceof FunctionRef)) bad(file, `metric_list[${i}].metric`, 'must be a metric name or a !function', m.metric);
      checkFunction(file, `metric_list[${i}].metric`, m.metric);
      if (m.aggregation !== undefined) {
        if (isStr(m.aggregation) && !(m.aggregation in AGGREGATIONS)) bad(file, `metric_list[${i}].aggregation`, `unknown aggregation (known: ${Object.keys(AGGREGATIONS).join(', ')})`, m.aggregation);
        if (!isStr(m.aggregation) && !(m.aggregation instanceof FunctionRef)) bad(file, `metric_list[${i}].aggregation`, 'must be an aggregation name or a !function', m.aggregation);
        checkFunction(file, `metric_list[${i}].aggregation`, m.aggregation);
      }
      if (m.higher_is_better !== undefined && typeof m.higher_is_better !== 'boolean') bad(file, `metric_list[${i}].higher_is_better`, 'must be true or false', m.higher_is_better);
    });
  }
  if (raw['metadata'] !== undefined && (typeof raw['metadata'] !== 'object' || raw['metadata'] === null)) bad(file, 'metadata', 'must be a mapping', raw['metadata']);
  const until = gk?.['until'];
  return {
    ...(raw as object),
    tag: tag as string[],
    output_type: outputType,
    target_delimiter: (raw['target_delimiter'] as string | undefined) ?? ' ',
    fewshot_delimiter: (raw['fewshot_delimiter'] as string | undefined) ?? '\n\n',
    repeats: repeats as number,
    ...(gk ? { generation_kwargs: { ...gk, ...(until !== undefined ? { until: [until].flat() as string[] } : {}) } } : {}),
  } as TaskConfig;
}

export function validateGroup(raw: Record<string, unknown>, file: string): GroupConfig {
  for (const k of Object.keys(raw)) if (!GROUP_KEYS.has(k)) bad(file, k, `unknown field for a group (${[...GROUP_KEYS].join(', ')})`);
  if (!isStr(raw['group'])) bad(file, 'group', 'must be a string', raw['group']);
  const tasks = raw['task'];
  if (!Array.isArray(tasks) || !tasks.every(isStr) || !tasks.length) bad(file, 'task', 'a group lists its tasks, groups or tags by name (inline task definitions are not supported)', tasks);
  const agg = raw['aggregate_metric_list'];
  if (agg !== undefined) {
    const list = Array.isArray(agg) ? agg : [agg];
    list.forEach((a, i) => {
      if (!a || !isStr(a.metric)) bad(file, `aggregate_metric_list[${i}].metric`, 'must be a metric name', a?.metric);
      if (a.aggregation !== undefined && a.aggregation !== 'mean') bad(file, `aggregate_metric_list[${i}].aggregation`, "only 'mean' is supported", a.aggregation);
    });
    raw['aggregate_metric_list'] = list;
  }
  return raw as unknown as GroupConfig;
}

/** All task/group/tag names in a set of directories (files ending in .yaml/.yml/.json; others are include-only). */
export class TaskIndex {
  readonly tasks = new Map<string, string>();
  readonly groups = new Map<string, string>();
  readonly tags = new Map<string, string[]>();

  constructor(readonly dirs: readonly string[]) {
    for (const dir of dirs) {
      if (!existsSync(dir)) throw new KolmError(`task directory not found: ${dir}`);
      this.scan(dir);
    }
  }

  private scan(path: string): void {
    if (statSync(path).isDirectory()) {
      for (const e of readdirSync(path).sort()) this.scan(join(path, e));
      return;
    }
    if (!['.yaml', '.yml', '.json'].includes(extname(path))) return;
    const raw = loadWithIncludes(path);
    if (isStr(raw['task']) && raw['group'] === undefined) {
      const name = raw['task'];
      const prev = this.tasks.get(name);
      if (prev && prev !== path) throw new KolmError(`${path}: task '${name}' is already defined in ${prev}`);
      this.tasks.set(name, path);
      const tags = raw['tag'] === undefined ? [] : [raw['tag']].flat();
      for (const t of tags) if (isStr(t)) this.tags.set(t, [...(this.tags.get(t) ?? []), name]);
    } else if (isStr(raw['group'])) {
      this.groups.set(raw['group'], path);
    }
  }

  names(): string[] {
    return [...new Set([...this.tasks.keys(), ...this.groups.keys(), ...this.tags.keys()])].sort();
  }

  /** Load and validate one task by name. */
  task(name: string): TaskEntry {
    const file = this.tasks.get(name);
    if (!file) throw new KolmError(`unknown task '${name}'`);
    return { kind: 'task', name, file, config: validateTask(loadWithIncludes(file), file) };
  }

  group(name: string): GroupEntry {
    const file = this.groups.get(name)!;
    return { kind: 'group', name, file, config: validateGroup(loadWithIncludes(file), file) };
  }

  /**
   * Expand requested names into leaf tasks (in request order, each once) and the groups that aggregate them.
   * A requested path to a YAML file is loaded directly.
   */
  resolve(requested: readonly string[]): { tasks: TaskEntry[]; groups: { entry: GroupEntry; leaves: string[]; children: string[] }[] } {
    const tasks = new Map<string, TaskEntry>();
    const groups: { entry: GroupEntry; leaves: string[]; children: string[] }[] = [];
    const expand = (name: string, trail: string[]): string[] => {
      if (trail.includes(name)) throw new KolmError(`group cycle: ${[...trail, name].join(' → ')}`);
      if (this.tasks.has(name)) {
        if (!tasks.has(name)) tasks.set(name, this.task(name));
        return [name];
      }
      if (this.groups.has(name)) {
        const entry = this.group(name);
        const leaves: string[] = [];
        for (const child of entry.config.task) leaves.push(...expand(child, [...trail, name]));
        groups.push({ entry, leaves: [...new Set(leaves)], children: entry.config.task });
        return leaves;
      }
      if (this.tags.has(name)) return this.tags.get(name)!.flatMap((t) => expand(t, [...trail, name]));
      const near = this.names().filter((n) => n.includes(name) || name.includes(n)).slice(0, 8);
      throw new KolmError(`unknown task, group or tag '${name}'${trail.length ? ` (listed by ${trail.at(-1)})` : ''}${near.length ? `; similar: ${near.join(', ')}` : ''}. \`kolm eval --list\` shows all`);
    };
    for (const r of requested) {
      if (/\.(ya?ml|json)$/.test(r) && existsSync(r)) {
        const file = resolve(r);
        const raw = loadWithIncludes(file);
        if (isStr(raw['group'])) throw new KolmError(`${file}: pass group files through --include-path, not --tasks`);
        const config = validateTask(raw, file);
        tasks.set(config.task, { kind: 'task', name: config.task, file, config });
        continue;
      }
      expand(r, []);
    }
    return { tasks: [...tasks.values()], groups };
  }
}

/** Resolve a FunctionRef: a built-in, or `module.fn` exported by module.js / module.mjs beside the task file. */
export async function resolveFunction(ref: FunctionRef): Promise<EvalFunction> {
  const builtin = FUNCTIONS.get(ref.name);
  if (builtin) return builtin;
  const dot = ref.name.lastIndexOf('.');
  if (dot > 0 && ref.file) {
    for (const ext of ['.js', '.mjs']) {
      const path = join(dirname(ref.file), ref.name.slice(0, dot) + ext);
      if (existsSync(path)) {
        const mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
        const fn = mod[ref.name.slice(dot + 1)];
        if (typeof fn !== 'function') throw new KolmError(`${ref.file}: ${basename(path)} does not export a function '${ref.name.slice(dot + 1)}'`);
        return fn as EvalFunction;
      }
    }
  }
  throw new KolmError(`${ref.file}: unknown function '${ref.name}'`);
}
