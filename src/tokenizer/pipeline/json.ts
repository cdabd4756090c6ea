/** Small readers for tokenizer.json fields: every problem names the file and the JSON field. */
import { KolmError } from '../../util/errors.js';

export type Json = Record<string, unknown>;

export class JsonReader {
  constructor(readonly file: string) {}

  fail(field: string, problem: string): never {
    throw new KolmError(`${this.file}: field ${field} ${problem}`);
  }

  obj(v: unknown, field: string): Json {
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : this.fail(field, 'must be an object');
  }

  arr(v: unknown, field: string): unknown[] {
    return Array.isArray(v) ? v : this.fail(field, 'must be an array');
  }

  str(v: unknown, field: string): string {
    return typeof v === 'string' ? v : this.fail(field, 'must be a string');
  }

  /** A component's `type`, checked against the supported ones. */
  type(o: Json, field: string, supported: readonly string[]): string {
    const t = o.type;
    if (typeof t !== 'string' || !supported.includes(t)) {
      this.fail(`${field}.type`, `is ${JSON.stringify(t)}; supported: ${supported.join(', ')}`);
    }
    return t as string;
  }

  /** A `{"String": s}` or `{"Regex": r}` pattern. */
  pattern(v: unknown, field: string): { string: string } | { regex: string } {
    const o = this.obj(v, field);
    if (typeof o.String === 'string') return { string: o.String };
    if (typeof o.Regex === 'string') return { regex: o.Regex };
    return this.fail(field, 'must be {"String": …} or {"Regex": …}');
  }
}
