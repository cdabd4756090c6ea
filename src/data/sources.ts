/**
 * Readers for the input formats: JSONL (optionally gzip), plain text (optionally gzip) and Parquet. Each yields
 * records lazily; only one chunk (or one Parquet row group) is in memory at a time.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import { createGunzip, gunzipSync, brotliDecompressSync } from 'node:zlib';
import * as zlib from 'node:zlib';
import { StringDecoder } from 'node:string_decoder';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import type { Compressors } from 'hyparquet';
import { BadInputError } from './errors.js';
import { KolmError } from '../util/errors.js';

export type InputFormat = 'jsonl' | 'text' | 'parquet';
export type TextSplit = 'file' | 'line' | 'paragraph';

export interface SourceRecord {
  /** Values of the requested text fields, in order (one value for monolingual input, e.g. two for en/ko pairs). */
  values: string[];
  /** Values of the requested metadata fields (missing ones are undefined). */
  meta?: Record<string, unknown>;
  file: string;
  line: number;
}

export interface ReadOptions {
  format?: InputFormat;
  /** Text fields to read (JSONL and Parquet). */
  fields: string[];
  /** Extra fields to carry along as metadata (e.g. a grouping key or a code file's path). */
  metaFields?: string[];
  /** How plain text is cut into records. */
  split?: TextSplit;
  /** Called instead of throwing when a record or file is bad; the reader then skips it and goes on. */
  onBad?: (err: BadInputError) => void;
  /** Called with the number of bytes read from disk (compressed, when gzip), for progress. */
  onDiskBytes?: (n: number) => void;
  /** Called with the number of uncompressed input bytes, for throughput. */
  onBytes?: (n: number) => void;
}

export function formatOf(file: string): InputFormat {
  const name = file.toLowerCase().replace(/\.gz$/, '');
  if (/\.(jsonl|ndjson|json)$/.test(name)) return 'jsonl';
  if (name.endsWith('.parquet')) return 'parquet';
  return 'text';
}

/** Files named by a path: the file itself, or every regular file below a directory, in sorted order. */
export async function expandPaths(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const st = await fsp.stat(p).catch(() => { throw new KolmError(`input not found: ${p}`); });
    if (!st.isDirectory()) { out.push(p); continue; }
    const entries = (await fsp.readdir(p, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile() && !e.name.startsWith('.'))
      .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))
      .sort();
    out.push(...entries);
  }
  return out;
}

export function readRecords(file: string, opts: ReadOptions): AsyncGenerator<SourceRecord> {
  const format = opts.format ?? formatOf(file);
  if (format === 'parquet') return readParquet(file, opts);
  if (format === 'jsonl') return readJsonl(file, opts);
  return readText(file, opts);
}

function fail(opts: ReadOptions, err: BadInputError): void {
  if (!opts.onBad) throw err;
  opts.onBad(err);
}

/** Lines of a (possibly gzip-compressed) UTF-8 file, with 1-based line numbers. */
async function* readLines(file: string, opts: ReadOptions): AsyncGenerator<[string, number]> {
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  if (opts.onDiskBytes) raw.on('data', (c) => opts.onDiskBytes!(c.length));
  const gz = file.endsWith('.gz');
  const stream = gz ? raw.pipe(createGunzip({ chunkSize: 1 << 20 })) : raw;
  if (gz) raw.on('error', (e) => stream.destroy(e));
  const decoder = new StringDecoder('utf8');
  let carry = '';
  let line = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      opts.onBytes?.(chunk.length);
      const text = carry + decoder.write(chunk);
      let start = 0;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
        line++;
        yield [text.slice(start, nl), line];
        start = nl + 1;
      }
      carry = text.slice(start);
    }
  } catch (e) {
    const msg = (e as Error).message;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new KolmError(`input not found: ${file}`);
    const what = gz ? 'truncated or corrupt gzip' : 'read error';
    fail(opts, new BadInputError(file, line + 1, undefined, `${what} (${msg}); ${line} complete lines read`, gz ? 'truncated-gzip' : 'read-error'));
    return;
  } finally {
    raw.destroy();
  }
  carry += decoder.end();
  if (carry.length) yield [carry, line + 1];
}

async function* readJsonl(file: string, opts: ReadOptions): AsyncGenerator<SourceRecord> {
  for await (const [text, line] of readLines(file, opts)) {
    if (!text.trim()) continue;
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (e) {
      fail(opts, new BadInputError(file, line, undefined, `malformed JSON (${(e as Error).message})`, 'malformed-json'));
      continue;
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      fail(opts, new BadInputError(file, line, undefined, 'expected a JSON object', 'malformed-json'));
      continue;
    }
    const rec = pick(obj as Record<string, unknown>, file, line, opts);
    if (rec) yield rec;
  }
}

function pick(obj: Record<string, unknown>, file: string, line: number, opts: ReadOptions): SourceRecord | undefined {
  const values: string[] = [];
  for (const f of opts.fields) {
    const v = obj[f];
    if (typeof v !== 'string') {
      const problem = v === undefined || v === null ? 'missing' : `expected a string, got ${Array.isArray(v) ? 'array' : typeof v}`;
      fail(opts, new BadInputError(file, line, f, problem, v === undefined || v === null ? 'missing-field' : 'bad-field'));
      return undefined;
    }
    values.push(v);
  }
  let meta: Record<string, unknown> | undefined;
  if (opts.metaFields?.length) {
    meta = {};
    for (const f of opts.metaFields) meta[f] = obj[f];
  }
  return { values, meta, file, line };
}

async function* readText(file: string, opts: ReadOptions): AsyncGenerator<SourceRecord> {
  const split = opts.split ?? 'file';
  let buf: string[] = [];
  let first = 0;
  for await (const [text, line] of readLines(file, opts)) {
    if (split === 'line') {
      if (text.trim()) yield { values: [text], file, line };
    } else if (split === 'paragraph' && !text.trim()) {
      if (buf.length) yield { values: [buf.join('\n')], file, line: first };
      buf = [];
    } else {
      if (!buf.length) first = line;
      buf.push(text);
    }
  }
  if (buf.length) yield { values: [buf.join('\n')], file, line: first };
}

const zstd = (zlib as unknown as { zstdDecompressSync?: (b: Uint8Array) => Buffer }).zstdDecompressSync;
const compressors: Compressors = {
  GZIP: (input) => gunzipSync(input),
  BROTLI: (input) => brotliDecompressSync(input),
  ...(zstd ? { ZSTD: (input: Uint8Array) => zstd(input) } : {}),
};

/** Parquet, one row group at a time; a "line" is the 1-based row number. */
async function* readParquet(file: string, opts: ReadOptions): AsyncGenerator<SourceRecord> {
  let buffer;
  let metadata;
  try {
    buffer = await asyncBufferFromFile(file);
    metadata = await parquetMetadataAsync(buffer);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new KolmError(`input not found: ${file}`);
    fail(opts, new BadInputError(file, undefined, undefined, `not a readable Parquet file (${(e as Error).message})`, 'broken-parquet'));
    return;
  }
  const columns = new Set(parquetSchema(metadata).children.map((c) => c.element.name));
  for (const f of opts.fields) {
    if (!columns.has(f)) {
      fail(opts, new BadInputError(file, undefined, f, `no such column (columns: ${[...columns].join(', ')})`, 'missing-field'));
      return;
    }
  }
  const wanted = [...opts.fields, ...(opts.metaFields ?? []).filter((f) => columns.has(f) && !opts.fields.includes(f))];
  let rowStart = 0;
  for (const [g, group] of metadata.row_groups.entries()) {
    const rowEnd = rowStart + Number(group.num_rows);
    let rows;
    try {
      rows = await parquetReadObjects({ file: buffer, metadata, columns: wanted, rowStart, rowEnd, compressors });
    } catch (e) {
      fail(opts, new BadInputError(file, rowStart + 1, undefined,
        `row group ${g} (rows ${rowStart + 1}-${rowEnd}) unreadable (${(e as Error).message})`, 'broken-parquet'));
      rowStart = rowEnd;
      continue;
    }
    opts.onDiskBytes?.(Number(group.total_byte_size));
    for (let i = 0; i < rows.length; i++) {
      const rec = pick(rows[i], file, rowStart + i + 1, opts);
      if (rec) {
        opts.onBytes?.(rec.values.reduce((n, v) => n + Buffer.byteLength(v), 0));
        yield rec;
      }
    }
    rowStart = rowEnd;
  }
}

