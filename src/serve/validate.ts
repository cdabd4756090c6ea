/** OpenAI-style errors and a small reader for request bodies that names the offending field. */

export type ErrorType = 'invalid_request_error' | 'authentication_error' | 'not_found_error' | 'rate_limit_error' | 'server_error' | 'timeout_error';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type: ErrorType = status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error',
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toJSON(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const invalid = (param: string, message: string, code: string | null = null) => new ApiError(400, message, param, code);

const describe = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`.slice(0, 60));

/** Typed access to one JSON object's fields; absent and `null` optional fields read as undefined. */
export class Fields {
  constructor(
    readonly value: Record<string, unknown>,
    readonly path = '',
  ) {}

  static of(value: unknown, path: string): Fields {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(path || 'body', `${path || 'The request body'} must be a JSON object, got ${describe(value)}`);
    return new Fields(value as Record<string, unknown>, path);
  }

  name(field: string): string {
    return this.path ? `${this.path}.${field}` : field;
  }

  /** Refuse fields outside `known` (OpenAI's behaviour for unrecognised request arguments). */
  only(known: readonly string[]): void {
    for (const k of Object.keys(this.value)) {
      if (!known.includes(k)) throw invalid(this.name(k), `Unrecognized request argument supplied: ${this.name(k)}`, 'unknown_parameter');
    }
  }

  has(field: string): boolean {
    return this.value[field] !== undefined && this.value[field] !== null;
  }

  raw(field: string): unknown {
    const v = this.value[field];
    return v === null ? undefined : v;
  }

  string(field: string, opts: { required?: boolean; oneOf?: readonly string[]; pattern?: RegExp; allowEmpty?: boolean } = {}): string | undefined {
    const v = this.raw(field);
    if (v === undefined) {
      if (opts.required) throw invalid(this.name(field), `Missing required parameter: '${this.name(field)}'`, 'missing_required_parameter');
      return undefined;
    }
    if (typeof v !== 'string') throw invalid(this.name(field), `Invalid type for '${this.name(field)}': expected a string, but got ${describe(v)}`, 'invalid_type');
    if (opts.oneOf && !opts.oneOf.includes(v)) throw invalid(this.name(field), `Invalid value for '${this.name(field)}': ${JSON.stringify(v)}; supported values are ${opts.oneOf.map((o) => `'${o}'`).join(', ')}`, 'invalid_value');
    if (opts.pattern && !opts.pattern.test(v)) throw invalid(this.name(field), `Invalid value for '${this.name(field)}': ${JSON.stringify(v)} does not match ${opts.pattern}`, 'invalid_value');
    if (!opts.allowEmpty && v.length === 0 && opts.required) throw invalid(this.name(field), `'${this.name(field)}' must not be empty`, 'invalid_value');
    return v;
  }

  number(field: string, opts: { min?: number; max?: number; integer?: boolean; required?: boolean } = {}): number | undefined {
    const v = this.raw(field);
    const kind = opts.integer ? 'an integer' : 'a number';
    if (v === undefined) {
      if (opts.required) throw invalid(this.name(field), `Missing required parameter: '${this.name(field)}'`, 'missing_required_parameter');
      return undefined;
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || (opts.integer && !Number.isInteger(v))) {
      throw invalid(this.name(field), `Invalid type for '${this.name(field)}': expected ${kind}, but got ${describe(v)}`, 'invalid_type');
    }
    if (opts.min !== undefined && v < opts.min) throw invalid(this.name(field), `Invalid '${this.name(field)}': ${v} is less than the minimum of ${opts.min}`, 'invalid_value');
    if (opts.max !== undefined && v > opts.max) throw invalid(this.name(field), `Invalid '${this.name(field)}': ${v} is greater than the maximum of ${opts.max}`, 'invalid_value');
    return v;
  }

  integer(field: string, opts: { min?: number; max?: number; required?: boolean } = {}): number | undefined {
    return this.number(field, { ...opts, integer: true });
  }

  boolean(field: string): boolean | undefined {
    const v = this.raw(field);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw invalid(this.name(field), `Invalid type for '${this.name(field)}': expected a boolean, but got ${describe(v)}`, 'invalid_type');
    return v;
  }

  object(field: string, opts: { required?: boolean } = {}): Fields | undefined {
    const v = this.raw(field);
    if (v === undefined) {
      if (opts.required) throw invalid(this.name(field), `Missing required parameter: '${this.name(field)}'`, 'missing_required_parameter');
      return undefined;
    }
    if (typeof v !== 'object' || Array.isArray(v)) throw invalid(this.name(field), `Invalid type for '${this.name(field)}': expected an object, but got ${describe(v)}`, 'invalid_type');
    return new Fields(v as Record<string, unknown>, this.name(field));
  }

  array(field: string, opts: { required?: boolean; nonEmpty?: boolean; max?: number } = {}): unknown[] | undefined {
    const v = this.raw(field);
    if (v === undefined) {
      if (opts.required) throw invalid(this.name(field), `Missing required parameter: '${this.name(field)}'`, 'missing_required_parameter');
      return undefined;
    }
    if (!Array.isArray(v)) throw invalid(this.name(field), `Invalid type for '${this.name(field)}': expected an array, but got ${describe(v)}`, 'invalid_type');
    if (opts.nonEmpty && v.length === 0) throw invalid(this.name(field), `Invalid '${this.name(field)}': empty array. Expected an array with minimum length 1`, 'empty_array');
    if (opts.max !== undefined && v.length > opts.max) throw invalid(this.name(field), `Invalid '${this.name(field)}': array too long. Expected an array with maximum length ${opts.max}, but got ${v.length}`, 'array_above_max_length');
    return v;
  }
}

export { describe as describeValue };
