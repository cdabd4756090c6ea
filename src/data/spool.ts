/** Temporary token store between the filtering pass and the mixing/packing pass: one flat file, read back by offset. */
import { closeSync, openSync, writeSync } from 'node:fs';
import { readTokens, HOST_LITTLE_ENDIAN, type TokenDtype } from './shards.js';

export class TokenSpool {
  private readonly fd: number;
  private buf: Uint16Array | Uint32Array;
  /** Tokens written so far (the offset of the next document). */
  length = 0;

  constructor(readonly path: string, readonly dtype: TokenDtype) {
    this.fd = openSync(path, 'w+');
    this.buf = dtype === 'uint16' ? new Uint16Array(1 << 16) : new Uint32Array(1 << 16);
  }

  /** Append tokens; returns their offset. */
  write(ids: ArrayLike<number>): number {
    if (this.buf.length < ids.length) this.buf = this.dtype === 'uint16' ? new Uint16Array(ids.length) : new Uint32Array(ids.length);
    this.buf.set(ids);
    const bytes = Buffer.from(this.buf.buffer, 0, ids.length * this.buf.BYTES_PER_ELEMENT);
    const out = HOST_LITTLE_ENDIAN ? bytes : Buffer.from(bytes)[this.dtype === 'uint16' ? 'swap16' : 'swap32']();
    for (let off = 0; off < out.length;) off += writeSync(this.fd, out, off, out.length - off, this.length * this.buf.BYTES_PER_ELEMENT + off);
    const at = this.length;
    this.length += ids.length;
    return at;
  }

  read(offset: number, count: number): Uint16Array | Uint32Array {
    return readTokens(this.fd, this.dtype, offset, count);
  }

  close(): void {
    closeSync(this.fd);
  }
}
