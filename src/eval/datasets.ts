/**
 * Local dataset files for evaluation tasks, read the way lm-eval's local builders do (`dataset_path: json | csv |
 * parquet | text` with `dataset_kwargs.data_files`), plus `parallel` for line-aligned translation files and `auto`
 * (format by file extension) for user copies whose layout varies.
 * Paths are relative to the data directory; `.gz` is read transparently, `archive.tar.gz#member` reads one member of
 * a tar archive, and `*` / `**` / `?` glob (matches are read in sorted order). CSV/TSV cells get pandas-like column
 * types (a column of integers becomes numbers, of True/False booleans, empty cells null), as HF `datasets` gives them.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { gunzipSync, brotliDecompressSync } from 'node:zlib';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { KolmError } from '../util/errors.js';

export type Doc = Record<string, unknown>;

export interface DatasetKwargs {
  data_files?: string | string[] | Record<string, string | string[] | ParallelFiles>;
  /** csv: field separator (default ','; '\t' for .tsv files). */
  delimiter?: string;
  /** csv: 0 = QUOTE_MINIMAL (default), 3 = QUOTE_NONE (quotes are ordinary characters). */
  quoting?: number;
  /** csv: names for a file without a header row. */
  column_names?: string[];
  /** json: read the records from this top-level key. */
  field?: string;
  /** Keep every CSV cell a string (no pandas-like typing). */
  keep_strings?: boolean;
  [k: string]: unknown;
}

/** Line-aligned parallel text: one file per language, e.g. { ko: 'x.ko', en: 'x.en' }. */
export type ParallelFiles = Record<string, string>;

export const BUILDERS = ['json', 'csv', 'parquet', 'text', 'parallel', 'auto'] as const;
export type Builder = (typeof BUILDERS)[number];

/** Where a data problem is reported: the task file and the field that names the data. */
export interface Origin {
  task: string;
  file: string;
}

function decompress(path: string, bytes: Buffer): Buffer {
  if (path.endsWith('.gz')) return gunzipSync(bytes);
  if (path.endsWith('.br')) return brotliDecompressSync(bytes);
  return bytes;
}

/** Members of a (possibly gzipped) ustar/GNU tar archive. */
export function readTar(bytes: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  let longName: string | undefined;
  while (off + 512 <= bytes.length) {
    const header = bytes.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const str = (a: number, b: number) => header.subarray(a, b).toString('utf8').replace(/\0.*$/s, '');
    let name = str(0, 100);
    const prefix = str(345, 500);
    if (prefix && str(257, 262) === 'ustar') name = `${prefix}/${name}`;
    const size = parseInt(str(124, 136).trim() || '0', 8);
    const type = String.fromCharCode(header[156]!);
    const body = bytes.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === 'L') {
      longName = body.toString('utf8').replace(/\0.*$/s, '');
      continue;
    }
    if (longName) {
      name = longName;
      longName = undefined;
    }
    if (type === '0' || type === '\0' || type === '7') out.set(name.replace(/^\.\//, ''), Buffer.from(body));
  }
  return out;
}

const fileCache = new Map<string, Buffer>();

/** Bytes of a data file, decompressed; `archive.tar.gz#member` selects a tar member. */
export function readDataFile(path: string): Buffer {
  const cached = fileCache.get(path);
  if (cached) return cached;
  const hash = path.indexOf('#');
  let bytes: Buffer;
  if (hash >= 0) {
    const archive = path.slice(0, hash);
    const member = path.slice(hash + 1);
    const members = readTar(decompress(archive, readFileSync(archive)));
    const found = members.get(member) ?? [...members].find(([n]) => n.endsWith(`/${member}`))?.[1];
    if (!found) throw new KolmError(`${archive}: no member '${member}' (members: ${[...members.keys()].join(', ')})`);
    bytes = decompress(member, found);
  } else {
    bytes = decompress(path, readFileSync(path));
  }
  fileCache.set(path, bytes);
  return bytes;
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
        if (glob[i + 1] === '/') i++;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function walk(dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(p);
  }
}

/** Resolve a data_files entry against the data directory: plain paths, globs, tar members. */
export function resolveDataFiles(pattern: string, dataDir: string): string[] {
  const hash = pattern.indexOf('#');
  const base = hash >= 0 ? pattern.slice(0, hash) : pattern;
  const member = hash >= 0 ? pattern.slice(hash) : '';
  const abs = isAbsolute(base) ? base : resolve(dataDir, base);
  if (!/[*?]/.test(base)) return existsSync(abs) ? [abs + member] : [];
  const firstGlob = abs.search(/[*?]/);
  const root = abs.slice(0, abs.lastIndexOf(sep, firstGlob) + 1) || sep;
  if (!existsSync(root) || !statSync(root).isDirectory()) return [];
  const re = globToRegExp(relative(root, abs).split(sep).join('/'));
  const all: string[] = [];
  walk(root, all);
  return all.filter((f) => re.test(relative(root, f).split(sep).join('/'))).sort().map((f) => f + member);
}

/** RFC 4180-style CSV (QUOTE_MINIMAL) or plain delimiter splitting (QUOTE_NONE). */
export function parseDelimited(text: string, delimiter: string, quoting: number): string[][] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const rows: string[][] = [];
  if (quoting === 3) {
    for (const line of text.split('\n')) {
      const l = line.endsWith('\r') ? line.slice(0, -1) : line;
      if (l.length) rows.push(l.split(delimiter));
    }
    return rows;
  }
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  let fieldStarted = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      field += c;
      i++;
      continue;
    }
    if (c === '"' && !fieldStarted) {
      quoted = true;
      fieldStarted = true;
      i++;
      continue;
    }
    if (text.startsWith(delimiter, i)) {
      row.push(field);
      field = '';
      fieldStarted = false;
      i += delimiter.length;
      continue;
    }
    if (c === '\n' || c === '\r') {
      row.push(field);
      if (!(row.length === 1 && row[0] === '' && !fieldStarted)) rows.push(row);
      row = [];
      field = '';
      fieldStarted = false;
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      continue;
    }
    field += c;
    fieldStarted = true;
    i++;
  }
  if (field.length || row.length || fieldStarted) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

const BOOL_WORDS: Record<string, boolean> = { True: true, TRUE: true, true: true, False: false, FALSE: false, false: false };

/** pandas-like column typing: all-integer → numbers, all-float → numbers, all-boolean words → booleans, '' → null. */
function typeColumns(records: Doc[], columns: string[]): void {
  for (const col of columns) {
    const values = records.map((r) => r[col] as string | undefined).filter((v): v is string => v !== undefined && v !== '');
    let kind: 'int' | 'float' | 'bool' | 'str' = values.length ? 'int' : 'str';
    for (const v of values) {
      if (kind === 'int' && !/^[-+]?\d+$/.test(v)) kind = 'float';
      if (kind === 'float' && !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v)) kind = 'bool';
      if (kind === 'bool' && !(v in BOOL_WORDS)) {
        kind = 'str';
        break;
      }
    }
    for (const r of records) {
      const v = r[col] as string | undefined;
      if (v === undefined) continue;
      if (v === '') r[col] = null;
      else if (kind === 'int' || kind === 'float') r[col] = Number(v);
      else if (kind === 'bool') r[col] = BOOL_WORDS[v];
    }
  }
}

function parseCsv(path: string, kw: DatasetKwargs): Doc[] {
  const text = readDataFile(path).toString('utf8');
  const member = path.includes('#') ? path.slice(path.indexOf('#') + 1) : path;
  const delimiter = kw.delimiter ?? (/\.tsv(\.gz)?$/.test(member) ? '\t' : ',');
  const rows = parseDelimited(text, delimiter, kw.quoting ?? 0);
  const header = kw.column_names ?? rows.shift() ?? [];
  const records = rows.map((r, i) => {
    if (r.length !== header.length) throw new KolmError(`${path}: row ${i + (kw.column_names ? 1 : 2)} has ${r.length} fields but the header has ${header.length} (${header.join(', ')})${kw.quoting === 3 ? '' : '; if the file has unbalanced quotes set dataset_kwargs.quoting: 3'}`);
    return Object.fromEntries(header.map((h, j) => [h, r[j]]));
  });
  if (!kw.keep_strings) typeColumns(records, header);
  return records;
}

function parseJson(path: string, kw: DatasetKwargs): Doc[] {
  const text = readDataFile(path).toString('utf8').replace(/^\ufeff/, '');
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[') || (trimmed.startsWith('{') && kw.field)) {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new KolmError(`${path}: invalid JSON: ${(e as Error).message}`);
    }
    if (kw.field) v = (v as Record<string, unknown>)[kw.field];
    if (!Array.isArray(v)) throw new KolmError(`${path}: expected a JSON array of records${kw.field ? ` under '${kw.field}'` : ''}`);
    return v as Doc[];
  }
  const out: Doc[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      out.push(JSON.parse(line) as Doc);
    } catch (e) {
      throw new KolmError(`${path}:${i + 1}: invalid JSON line: ${(e as Error).message}`);
    }
  });
  return out;
}

async function parseParquet(path: string): Promise<Doc[]> {
  const file = await asyncBufferFromFile(path);
  return (await parquetReadObjects({ file, compressors: { GZIP: (b: Uint8Array) => gunzipSync(b), BROTLI: (b: Uint8Array) => brotliDecompressSync(b) } })) as Doc[];
}

function lines(path: string): string[] {
  const text = readDataFile(path).toString('utf8').replace(/^\ufeff/, '');
  const out = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (out.length && out[out.length - 1] === '') out.pop();
  return out;
}

/** Read one split's files with a builder. */
export async function loadSplit(builder: Builder, files: string[] | ParallelFiles, kw: DatasetKwargs, where: string): Promise<Doc[]> {
  if (builder === 'parallel') {
    const spec = files as ParallelFiles;
    const langs = Object.keys(spec);
    const cols = langs.map((l) => lines(spec[l]!));
    const n = cols[0]!.length;
    cols.forEach((c, i) => {
      if (c.length !== n) throw new KolmError(`${where}: parallel files differ in length: ${spec[langs[0]!]} has ${n} lines, ${spec[langs[i]!]} has ${c.length}`);
    });
    return Array.from({ length: n }, (_, i) => {
      const translation = Object.fromEntries(langs.map((l, j) => [l, cols[j]![i]!]));
      return { ...translation, translation };
    });
  }
  const out: Doc[] = [];
  for (const f of files as string[]) {
    let b: Builder = builder;
    if (b === 'auto') {
      const name = (f.includes('#') ? f.slice(f.indexOf('#') + 1) : f).replace(/\.(gz|br)$/, '');
      b = /\.(csv|tsv)$/.test(name) ? 'csv' : /\.jsonl?$/.test(name) ? 'json' : /\.parquet$/.test(name) ? 'parquet' : /\.txt$/.test(name) ? 'text' : b;
      if (b === 'auto') throw new KolmError(`${where}: cannot tell the format of ${f} from its extension (.csv, .tsv, .json, .jsonl, .parquet, .txt)`);
    }
    if (b === 'csv') out.push(...parseCsv(f, kw));
    else if (b === 'json') out.push(...parseJson(f, kw));
    else if (b === 'parquet') out.push(...(await parseParquet(f)));
    else if (b === 'text') out.push(...lines(f).map((text) => ({ text })));
  }
  return out;
}
