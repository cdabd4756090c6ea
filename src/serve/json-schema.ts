/**
 * The schema compiler of constrained JSON decoding: a JSON Schema becomes a tree of `SchemaNode`s, each a set of
 * variants told apart by their first byte, with the fewest bytes any instance needs.
 *
 * Schema subset: `type` (one or several), `enum`, `const`, `properties` + `required` (keys are produced in the order
 * `properties` lists them; additional keys are never produced, which every `additionalProperties` allows), objects
 * without `properties` (free keys; values follow `additionalProperties` when it is a schema), `items`, `minItems`,
 * `maxItems`, `minLength`, `maxLength`, `anyOf` / `oneOf` whose branches start differently (object, array, string,
 * number, true/false/null), `$ref` to `#/$defs/…` or `#/definitions/…` (not recursive), and annotations (`title`,
 * `description`, `default`, `examples`, `$schema`, `$id`, `$comment`, `deprecated`, `readOnly`, `writeOnly`,
 * `strict`). Any other keyword is refused with its path rather than ignored, so whatever is accepted is enforced.
 */
import { KolmError } from '../util/errors.js';

export class SchemaError extends KolmError {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(`${message} at ${path}`);
  }
}

export const OBJ = 1;
export const ARR = 2;
export const STR = 4;
export const NUM = 8;
export const LIT = 16;

export interface Prop {
  key: Uint8Array; // JSON.stringify(key), quotes included
  node: SchemaNode;
  required: boolean;
}

export interface ObjVariant {
  kind: typeof OBJ;
  props?: Prop[];
  /** Values of free keys (objects without `properties`); undefined = no keys at all. */
  values?: SchemaNode;
}
export interface ArrVariant {
  kind: typeof ARR;
  items: SchemaNode;
  minItems: number;
  maxItems: number;
}
export interface StrVariant {
  kind: typeof STR;
  minLength: number;
  maxLength: number;
}
export interface NumVariant {
  kind: typeof NUM;
  integer: boolean;
}
export interface LitVariant {
  kind: typeof LIT;
  values: Uint8Array[];
}
export type Variant = ObjVariant | ArrVariant | StrVariant | NumVariant | LitVariant;

export interface SchemaNode {
  variants: Variant[];
  /** First byte → variant. */
  dispatch: Map<number, Variant>;
  minLen: number;
}

const encoder = new TextEncoder();
const bytes = (s: string) => encoder.encode(s);

const ANNOTATIONS = new Set(['title', 'description', 'default', 'examples', '$schema', '$id', '$comment', 'deprecated', 'readOnly', 'writeOnly', 'strict', '$defs', 'definitions']);
const HANDLED = new Set(['type', 'enum', 'const', 'properties', 'required', 'additionalProperties', 'items', 'minItems', 'maxItems', 'minLength', 'maxLength', 'anyOf', 'oneOf', '$ref']);

/** Compile a JSON Schema (`true`/`{}` = any JSON value). Throws `SchemaError` naming the unsupported part. */
export function compileSchema(schema: unknown, path = '#'): SchemaNode {
  return new Compiler(schema).node(schema, path, 0);
}

/** Any JSON object (JSON mode). */
export function anyObjectSchema(): SchemaNode {
  return compileSchema({ type: 'object' });
}

class Compiler {
  private readonly any: SchemaNode;

  constructor(private readonly root: unknown) {
    // The unconstrained value: its object values and array items are itself.
    const any: SchemaNode = { variants: [], dispatch: new Map(), minLen: 1 };
    finish(any, [
      { kind: OBJ, values: any },
      { kind: ARR, items: any, minItems: 0, maxItems: Infinity },
      { kind: STR, minLength: 0, maxLength: Infinity },
      { kind: NUM, integer: false },
      { kind: LIT, values: [bytes('true'), bytes('false'), bytes('null')] },
    ], '#');
    this.any = any;
  }

  node(s: unknown, path: string, depth: number): SchemaNode {
    if (depth > 64) throw new SchemaError('schema nesting is deeper than 64 (recursive $ref?)', path);
    if (s === true) return this.any;
    if (s === false) throw new SchemaError('the schema `false` accepts nothing', path);
    if (!isObject(s)) throw new SchemaError('a schema must be an object or a boolean', path);
    for (const k of Object.keys(s)) {
      if (!HANDLED.has(k) && !ANNOTATIONS.has(k)) throw new SchemaError(`unsupported JSON Schema keyword '${k}'`, path);
    }
    if (s['$ref'] !== undefined) {
      if (Object.keys(s).some((k) => HANDLED.has(k) && k !== '$ref')) throw new SchemaError("'$ref' beside other constraints is not supported", path);
      return this.node(this.resolve(s['$ref'], path), `${path}/$ref`, depth + 1);
    }
    const alternatives = s['anyOf'] ?? s['oneOf'];
    if (alternatives !== undefined) {
      const key = s['anyOf'] !== undefined ? 'anyOf' : 'oneOf';
      if (s['anyOf'] !== undefined && s['oneOf'] !== undefined) throw new SchemaError("'anyOf' and 'oneOf' together are not supported", path);
      if (!Array.isArray(alternatives) || alternatives.length === 0) throw new SchemaError(`'${key}' must be a non-empty array`, path);
      if (Object.keys(s).some((k) => HANDLED.has(k) && k !== key)) throw new SchemaError(`'${key}' beside other constraints is not supported`, path);
      const variants = alternatives.flatMap((a, i) => this.node(a, `${path}/${key}/${i}`, depth + 1).variants);
      return finish({ variants: [], dispatch: new Map(), minLen: 0 }, variants, path);
    }
    const types = this.types(s, path);
    if (s['enum'] !== undefined || s['const'] !== undefined) {
      let values: unknown[];
      if (s['const'] !== undefined) values = [s['const']];
      else if (Array.isArray(s['enum']) && s['enum'].length > 0) values = s['enum'];
      else throw new SchemaError("'enum' must be a non-empty array", path);
      if (types) values = values.filter((v) => types.has(jsonType(v)) || (types.has('number') && jsonType(v) === 'integer'));
      if (values.length === 0) throw new SchemaError("no 'enum' value has the schema's type", path);
      const serialized = [...new Set(values.map((v) => JSON.stringify(v)))].map(bytes);
      return finish({ variants: [], dispatch: new Map(), minLen: 0 }, [{ kind: LIT, values: serialized }], path);
    }
    const all = types ?? this.impliedTypes(s);
    const variants: Variant[] = [];
    if (all.has('object')) variants.push(this.object(s, path, depth));
    if (all.has('array')) {
      const minItems = count(s, 'minItems', path, 0);
      const maxItems = count(s, 'maxItems', path, Infinity);
      if (minItems > maxItems) throw new SchemaError('minItems > maxItems', path);
      variants.push({ kind: ARR, items: s['items'] === undefined ? this.any : this.node(s['items'], `${path}/items`, depth + 1), minItems, maxItems });
    }
    if (all.has('string')) {
      const minLength = count(s, 'minLength', path, 0);
      const maxLength = count(s, 'maxLength', path, Infinity);
      if (minLength > maxLength) throw new SchemaError('minLength > maxLength', path);
      variants.push({ kind: STR, minLength, maxLength });
    }
    if (all.has('number') || all.has('integer')) variants.push({ kind: NUM, integer: !all.has('number') });
    const literals = [...(all.has('boolean') ? ['true', 'false'] : []), ...(all.has('null') ? ['null'] : [])];
    if (literals.length) variants.push({ kind: LIT, values: literals.map(bytes) });
    return finish({ variants: [], dispatch: new Map(), minLen: 0 }, variants, path);
  }

  private types(s: Record<string, unknown>, path: string): Set<string> | undefined {
    const t = s['type'];
    if (t === undefined) return undefined;
    const list = Array.isArray(t) ? t : [t];
    const known = ['object', 'array', 'string', 'number', 'integer', 'boolean', 'null'];
    for (const x of list) if (typeof x !== 'string' || !known.includes(x)) throw new SchemaError(`unknown type ${JSON.stringify(x)}`, `${path}/type`);
    if (list.length === 0) throw new SchemaError("'type' is empty", path);
    return new Set(list as string[]);
  }

  /** Without `type`: the kinds the present keywords talk about, or any value. */
  private impliedTypes(s: Record<string, unknown>): Set<string> {
    const implied = new Set<string>();
    if (s['properties'] !== undefined || s['required'] !== undefined || s['additionalProperties'] !== undefined) implied.add('object');
    if (s['items'] !== undefined || s['minItems'] !== undefined || s['maxItems'] !== undefined) implied.add('array');
    if (s['minLength'] !== undefined || s['maxLength'] !== undefined) implied.add('string');
    return implied.size ? implied : new Set(['object', 'array', 'string', 'number', 'boolean', 'null']);
  }

  private object(s: Record<string, unknown>, path: string, depth: number): ObjVariant {
    const required = s['required'] ?? [];
    if (!Array.isArray(required) || required.some((r) => typeof r !== 'string')) throw new SchemaError("'required' must be an array of strings", path);
    const additional = s['additionalProperties'];
    if (additional !== undefined && typeof additional !== 'boolean' && !isObject(additional)) throw new SchemaError("'additionalProperties' must be a boolean or a schema", path);
    const properties = s['properties'];
    if (properties === undefined) {
      if (required.length) throw new SchemaError("'required' names properties but 'properties' is missing", path);
      if (additional === false) return { kind: OBJ, props: [] };
      return { kind: OBJ, values: additional === undefined || additional === true ? this.any : this.node(additional, `${path}/additionalProperties`, depth + 1) };
    }
    if (!isObject(properties)) throw new SchemaError("'properties' must be an object", path);
    for (const r of required) if (!(r in properties)) throw new SchemaError(`required property '${r}' is not in 'properties'`, path);
    const props = Object.entries(properties).map(([key, sub]) => ({
      key: bytes(JSON.stringify(key)),
      node: this.node(sub, `${path}/properties/${key}`, depth + 1),
      required: required.includes(key),
    }));
    return { kind: OBJ, props };
  }

  private resolve(ref: unknown, path: string): unknown {
    const m = typeof ref === 'string' ? /^#\/(\$defs|definitions)\/([^/]+)$/.exec(ref) : null;
    if (!m) throw new SchemaError(`only '#/$defs/NAME' and '#/definitions/NAME' references are supported, got ${JSON.stringify(ref)}`, path);
    const defs = isObject(this.root) ? this.root[m[1]!] : undefined;
    const target = isObject(defs) ? defs[m[2]!.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
    if (target === undefined) throw new SchemaError(`reference ${ref} does not resolve`, path);
    return target;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function count(s: Record<string, unknown>, key: string, path: string, fallback: number): number {
  const v = s[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new SchemaError(`'${key}' must be a non-negative integer`, path);
  return v;
}

function firstBytes(v: Variant): number[] {
  switch (v.kind) {
    case OBJ: return [0x7b];
    case ARR: return [0x5b];
    case STR: return [0x22];
    case NUM: return [0x2d, ...Array.from({ length: 10 }, (_, i) => 0x30 + i)];
    case LIT: return [...new Set(v.values.map((b) => b[0]!))];
  }
}

function finish(node: SchemaNode, variants: Variant[], path: string): SchemaNode {
  // Merge literal variants; a number variant subsumes an integer one.
  const lits = variants.filter((v): v is LitVariant => v.kind === LIT);
  const nums = variants.filter((v): v is NumVariant => v.kind === NUM);
  const merged: Variant[] = variants.filter((v) => v.kind !== LIT && v.kind !== NUM);
  if (nums.length) merged.push({ kind: NUM, integer: nums.every((n) => n.integer) });
  if (lits.length) merged.push({ kind: LIT, values: lits.flatMap((l) => l.values) });
  for (const v of merged) {
    for (const b of firstBytes(v)) {
      const other = node.dispatch.get(b);
      if (other && other !== v) throw new SchemaError(`alternatives that both start with '${String.fromCharCode(b)}' are not supported`, path);
      node.dispatch.set(b, v);
    }
  }
  node.variants = merged;
  node.minLen = Math.min(...merged.map(variantMinLen));
  if (!Number.isFinite(node.minLen)) throw new SchemaError('the schema has no finite instance', path);
  return node;
}

function variantMinLen(v: Variant): number {
  switch (v.kind) {
    case OBJ:
      return v.props ? 1 + requiredCost(v.props, 0, false) : 2;
    case ARR:
      return v.minItems === 0 ? 2 : 2 + v.minItems * v.items.minLen + v.minItems - 1;
    case STR:
      return 2 + v.minLength;
    case NUM:
      return 1;
    case LIT:
      return Math.min(...v.values.map((b) => b.length));
  }
}

/** Bytes to write the required properties from index `from` on, and the closing brace. */
export function requiredCost(props: Prop[], from: number, leadingComma: boolean): number {
  let cost = 1;
  let first = !leadingComma;
  for (let i = from; i < props.length; i++) {
    const p = props[i]!;
    if (!p.required) continue;
    cost += (first ? 0 : 1) + p.key.length + 1 + p.node.minLen;
    first = false;
  }
  return cost;
}
