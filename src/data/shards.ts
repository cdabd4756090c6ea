/**
 * Token shards: flat little-endian uint16 (vocab ≤ 65536) or uint32 token files, with EOS after every document,
 * plus `index.json` describing shards, document offsets, per-language/source token counts and the tokenizer hash.
 */
import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { KolmError } from '../util/errors.js';

export type TokenDtype = 'uint16' | 'uint32';
export type Split = 'train' | 'validation';

export const INDEX_FILE = 'index.json';
export const INDEX_FORMAT = 'kolm-token-shards';

/** Platform byte order: typed arrays use it, the files are little-endian, so big-endian hosts swap. */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function dtypeFor(vocabSize: number): TokenDtype {
  return vocabSize <= 65536 ? 'uint16' : 'uint32';
}

export function bytesPer(dtype: TokenDtype): 2 | 4 {
  return dtype === 'uint16' ? 2 : 4;
}

export interface ShardDocuments {
  /** Token offset of each document's first token within the shard; a document runs to the next offset (its EOS included). */
  offsets: number[];
  /** Index into ShardIndex.langs / .sources per document. */
  lang: number[];
  source: number[];
  /** 1 where the document was FIM-transformed. */
  fim: number[];
}

export interface ShardInfo {
  file: string;
  split: Split;
  tokens: number;
  sha256: string;
  documents: ShardDocuments;
}

export interface SplitSummary {
  tokens: number;
  documents: number;
  fimDocuments: number;
  tokensByLang: Record<string, number>;
  tokensBySource: Record<string, number>;
  documentsByLang: Record<string, number>;
}

export interface ShardIndex {
  format: typeof INDEX_FORMAT;
  version: 1;
  dtype: TokenDtype;
  vocabSize: number;
  eosId: number;
  tokenizerHash: string;
  seed: number;
  langs: string[];
  sources: string[];
  splits: Record<Split, SplitSummary>;
  shards: ShardInfo[];
}

export function emptySummary(): SplitSummary {
  return { tokens: 0, documents: 0, fimDocuments: 0, tokensByLang: {}, tokensBySource: {}, documentsByLang: {} };
}

/** Writes one split's shards; documents never straddle two shards. */
export class ShardWriter {
  readonly shards: ShardInfo[] = [];
  private readonly buf: Uint16Array | Uint32Array;
  private fill = 0;
  private fd = -1;
  private hash = createHash('sha256');
  private current: ShardInfo | undefined;

  constructor(
    private readonly dir: string,
    private readonly split: Split,
    private readonly dtype: TokenDtype,
    private readonly maxTokens: number,
    private readonly eosId: number,
  ) {
    this.buf = dtype === 'uint16' ? new Uint16Array(1 << 20) : new Uint32Array(1 << 20);
  }

  /** Append a document and its EOS. */
  add(ids: ArrayLike<number>, lang: number, source: number, fim: boolean): void {
    const n = ids.length + 1;
    if (!this.current || (this.current.tokens > 0 && this.current.tokens + n > this.maxTokens)) this.open();
    const s = this.current!;
    s.documents.offsets.push(s.tokens);
    s.documents.lang.push(lang);
    s.documents.source.push(source);
    s.documents.fim.push(fim ? 1 : 0);
    s.tokens += n;
    for (let i = 0; i < ids.length; i++) {
      if (this.fill === this.buf.length) this.flush();
      this.buf[this.fill++] = ids[i];
    }
    if (this.fill === this.buf.length) this.flush();
    this.buf[this.fill++] = this.eosId;
  }

  /** Close the last shard; returns all shards written. */
  finish(): ShardInfo[] {
    this.close();
    return this.shards;
  }

  private open(): void {
    this.close();
    const file = `${this.split}-${String(this.shards.length).padStart(5, '0')}.bin`;
    this.fd = openSync(join(this.dir, file), 'w');
    this.hash = createHash('sha256');
    this.current = { file, split: this.split, tokens: 0, sha256: '', documents: { offsets: [], lang: [], source: [], fim: [] } };
    this.shards.push(this.current);
  }

  private flush(): void {
    if (!this.fill) return;
    const bytes = Buffer.from(this.buf.buffer, 0, this.fill * this.buf.BYTES_PER_ELEMENT);
    const out = HOST_LITTLE_ENDIAN ? bytes : Buffer.from(bytes)[this.dtype === 'uint16' ? 'swap16' : 'swap32']();
    this.hash.update(out);
    for (let off = 0; off < out.length;) off += writeSync(this.fd, out, off);
    this.fill = 0;
  }

  private close(): void {
    if (this.fd < 0) return;
    this.flush();
    closeSync(this.fd);
    this.fd = -1;
    this.current!.sha256 = this.hash.digest('hex');
  }
}

export function readIndex(dir: string): ShardIndex {
  let index: ShardIndex;
  try {
    index = JSON.parse(readFileSync(join(dir, INDEX_FILE), 'utf8'));
  } catch (e) {
    throw new KolmError(`${join(dir, INDEX_FILE)}: cannot read shard index (${(e as Error).message})`);
  }
  if (index.format !== INDEX_FORMAT) throw new KolmError(`${join(dir, INDEX_FILE)}: not a kolm shard index`);
  return index;
}

/** Tokens [start, start + count) of a shard file, read with one positioned read (no whole-file load). */
export function readTokens(fd: number, dtype: TokenDtype, start: number, count: number, into?: Uint16Array | Uint32Array): Uint16Array | Uint32Array {
  const bpt = bytesPer(dtype);
  const out = into ?? (dtype === 'uint16' ? new Uint16Array(count) : new Uint32Array(count));
  const bytes = new Uint8Array(out.buffer, out.byteOffset, count * bpt);
  let got = 0;
  while (got < bytes.length) {
    const n = readSync(fd, bytes, got, bytes.length - got, start * bpt + got);
    if (n === 0) throw new KolmError(`shard ended early: wanted tokens ${start}..${start + count}`);
    got += n;
  }
  if (!HOST_LITTLE_ENDIAN) Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)[bpt === 2 ? 'swap16' : 'swap32']();
  return out;
}

