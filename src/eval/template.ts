/**
 * lm-eval's prompt fields: a field is either the name of a document column, a Jinja template rendered over the
 * document (`utils.apply_template`, with keep_trailing_newline=True), a literal, or a function. Templates are
 * rendered with @huggingface/jinja; references to names that are neither document fields nor set in the template
 * are reported when the task is loaded (lm-eval uses StrictUndefined).
 */
import { Template } from '@huggingface/jinja';
import { KolmError } from '../util/errors.js';

const cache = new Map<string, Template>();

function compile(source: string, where: string): Template {
  let t = cache.get(source);
  if (!t) {
    try {
      // Jinja drops one trailing newline of the template; lm-eval keeps it (keep_trailing_newline=True).
      t = new Template(source.endsWith('\n') ? `${source}{{ '' }}` : source);
    } catch (e) {
      throw new KolmError(`${where}: invalid Jinja template ${JSON.stringify(source)}: ${(e as Error).message}`);
    }
    cache.set(source, t);
  }
  return t;
}

export function renderTemplate(source: string, doc: Record<string, unknown>, where: string): string {
  const t = compile(source, where);
  try {
    return t.render(doc);
  } catch (e) {
    throw new KolmError(`${where}: rendering ${JSON.stringify(source)} failed: ${(e as Error).message}`);
  }
}

const SINGLE_EXPR = /^\s*\{\{([\s\S]*)\}\}\s*$/;

/**
 * Render a template that should produce a list (lm-eval renders, then `ast.literal_eval`s the text). A template
 * that is one `{{ expression }}` is evaluated to its value directly (through `tojson`), which is what
 * `literal_eval(str(value))` gives in Python.
 */
export function renderValue(source: string, doc: Record<string, unknown>, where: string): unknown {
  const m = SINGLE_EXPR.exec(source);
  if (m && !m[1]!.includes('}}') && !m[1]!.includes('{{')) {
    const json = renderTemplate(`{{ (${m[1]!}) | tojson }}`, doc, where);
    try {
      return JSON.parse(json);
    } catch {
      return json;
    }
  }
  return parsePyLiteral(renderTemplate(source, doc, where));
}

/** A small `ast.literal_eval` for lists/tuples of strings and numbers as Python prints them; else the text. */
export function parsePyLiteral(text: string): unknown {
  const s = text.trim();
  if (/^-?\d+$/.test(s)) return Number(s);
  if (!(s.startsWith('[') && s.endsWith(']'))) return text;
  let i = 0;
  const ws = () => { while (i < s.length && /\s/.test(s[i]!)) i++; };
  const value = (): unknown => {
    ws();
    const c = s[i];
    if (c === '[' || c === '(') {
      const close = c === '[' ? ']' : ')';
      i++;
      const out: unknown[] = [];
      ws();
      while (s[i] !== close) {
        out.push(value());
        ws();
        if (s[i] === ',') i++;
        else if (s[i] !== close) throw new Error('expected , or ' + close);
        ws();
      }
      i++;
      return out;
    }
    if (c === "'" || c === '"') {
      i++;
      let out = '';
      while (s[i] !== c) {
        if (i >= s.length) throw new Error('unterminated string');
        if (s[i] === '\\') {
          const n = s[i + 1]!;
          const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"' };
          if (n === 'x' || n === 'u') {
            const len = n === 'x' ? 2 : 4;
            out += String.fromCharCode(parseInt(s.slice(i + 2, i + 2 + len), 16));
            i += 2 + len;
            continue;
          }
          out += map[n] ?? n;
          i += 2;
          continue;
        }
        out += s[i++];
      }
      i++;
      return out;
    }
    const m = /^-?\d+(\.\d+)?([eE][-+]?\d+)?/.exec(s.slice(i));
    if (m) {
      i += m[0].length;
      return Number(m[0]);
    }
    for (const [word, v] of [['True', true], ['False', false], ['None', null]] as const) {
      if (s.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    throw new Error(`unexpected ${JSON.stringify(s.slice(i, i + 10))}`);
  };
  try {
    const v = value();
    ws();
    return i === s.length ? v : text;
  } catch {
    return text;
  }
}

const GLOBALS = new Set(['true', 'false', 'none', 'True', 'False', 'None', 'range', 'namespace', 'loop', 'raise_exception', 'strftime_now', 'dict', 'list']);

interface Node { type: string; [k: string]: unknown }

/** Names a template reads that it does not define itself (set / for / macro), skipping `x is defined` tests. */
export function templateNames(source: string): Set<string> {
  const t = compile(source, 'template');
  const refs = new Set<string>();
  const locals = new Set<string>();
  const visit = (n: unknown): void => {
    if (!n || typeof n !== 'object') return;
    if (Array.isArray(n)) return n.forEach(visit);
    if (n instanceof Map) {
      for (const [k, v] of n) {
        visit(k);
        visit(v);
      }
      return;
    }
    const node = n as Node;
    switch (node.type) {
      case 'Identifier':
        refs.add(node['value'] as string);
        return;
      case 'MemberExpression':
        visit(node['object']);
        if (node['computed']) visit(node['property']);
        return;
      case 'Set':
        collectTargets(node['assignee'], locals);
        visit(node['value']);
        visit(node['body']);
        return;
      case 'For':
        collectTargets(node['loopvar'], locals);
        visit(node['iterable']);
        visit(node['body']);
        visit(node['defaultBlock']);
        return;
      case 'Macro':
        collectTargets(node['name'], locals);
        for (const a of (node['args'] as unknown[]) ?? []) collectTargets(a, locals);
        visit(node['body']);
        return;
      case 'TestExpression': {
        const test = (node['test'] as Node | undefined)?.['value'];
        if (test === 'defined' || test === 'undefined' || test === 'none') return;
        visit(node['operand']);
        return;
      }
      case 'FilterExpression':
        visit(node['operand']);
        if ((node['filter'] as Node)?.type === 'CallExpression') visit((node['filter'] as Node)['args']);
        return;
      case 'FilterStatement':
        if ((node['filter'] as Node)?.type === 'CallExpression') visit((node['filter'] as Node)['args']);
        visit(node['body']);
        return;
      case 'KeywordArgumentExpression':
        visit(node['value']);
        return;
      default:
        for (const [k, v] of Object.entries(node)) if (k !== 'type') visit(v);
    }
  };
  visit(t.parsed);
  for (const l of locals) refs.delete(l);
  for (const g of GLOBALS) refs.delete(g);
  return refs;
}

function collectTargets(n: unknown, into: Set<string>): void {
  if (!n || typeof n !== 'object') return;
  const node = n as Node;
  if (node.type === 'Identifier') into.add(node['value'] as string);
  else if (node.type === 'TupleLiteral' || node.type === 'ArrayLiteral') for (const x of node['value'] as unknown[]) collectTargets(x, into);
  else if (node.type === 'KeywordArgumentExpression') collectTargets(node['key'], into);
}
