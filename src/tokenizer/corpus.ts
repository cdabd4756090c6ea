/**
 * Streams training text from files: JSONL (`text` field, or `ko`/`en` of parallel records) and plain text, either
 * optionally gzipped. Plain text comes in chunks of whole lines, newlines kept, so line breaks are counted as text.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { KolmError } from '../util/errors.js';

const PLAIN_CHUNK_CHARS = 1 << 16;

export interface CorpusOptions {
  /** Stop after this many UTF-8 bytes of text (the document that crosses the limit is still yielded whole). */
  maxBytes?: number;
  /** Called with the UTF-8 size of each yielded text. */
  onBytes?: (n: number) => void;
}

export async function* readCorpus(paths: readonly string[], opts: CorpusOptions = {}): AsyncGenerator<string> {
  let total = 0;
  for (const path of paths) {
    await stat(path).catch(() => {
      throw new KolmError(`cannot read input ${path}`);
    });
    const jsonl = /\.jsonl?(\.gz)?$/i.test(path);
    const source = jsonl ? jsonlTexts(path) : plainChunks(path);
    for await (const text of source) {
      const n = Buffer.byteLength(text);
      total += n;
      opts.onBytes?.(n);
      yield text;
      if (opts.maxBytes !== undefined && total >= opts.maxBytes) return;
    }
  }
}

function lines(path: string): AsyncIterable<string> {
  const file = createReadStream(path);
  const input = path.endsWith('.gz') ? file.pipe(createGunzip()) : file;
  file.on('error', (err) => input.destroy(err));
  return createInterface({ input, crlfDelay: Infinity });
}

async function* jsonlTexts(path: string): AsyncGenerator<string> {
  let lineNo = 0;
  for await (const line of lines(path)) {
    lineNo++;
    if (!line.trim()) continue;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      throw new KolmError(`${path}:${lineNo}: not valid JSON`);
    }
    const r = record as Record<string, unknown>;
    if (typeof r.text === 'string') yield r.text;
    else if (typeof r.ko === 'string' || typeof r.en === 'string') {
      if (typeof r.ko === 'string') yield r.ko;
      if (typeof r.en === 'string') yield r.en;
    } else throw new KolmError(`${path}:${lineNo}: record has no string field "text" (or "ko"/"en")`);
  }
}

async function* plainChunks(path: string): AsyncGenerator<string> {
  let chunk = '';
  for await (const line of lines(path)) {
    chunk += line + '\n';
    if (chunk.length >= PLAIN_CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}
