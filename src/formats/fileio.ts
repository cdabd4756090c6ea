/** Positioned reads and atomic streamed writes shared by the tensor file formats. */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { tempPathFor } from '../util/atomic.js';
import { KolmError } from '../util/errors.js';

/** Bytes moved per read/write call: bounds the scratch memory of streaming a multi-GB tensor. */
export const CHUNK_BYTES = 8 << 20;

/** Fill `buf` from `position`; a short file (or one truncated since its header was read) is a KolmError. */
export async function readExact(fd: FileHandle, buf: Uint8Array, position: number, file: string): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fd.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) {
      throw new KolmError(`${file}: file ends at byte ${position + done}, expected ${buf.length - done} more bytes`);
    }
    done += bytesRead;
  }
}

/**
 * Read `out.length / blockElems` blocks of `blockBytes` bytes each from `position` and decode them into `out` chunk by
 * chunk, so a tensor of any size needs only its float32 output plus one chunk of scratch. Plain dtypes are blocks of
 * one element; quantized types (GGUF Q8_0: 32 values in 34 bytes) pass their block geometry.
 */
export async function readDecoded(
  fd: FileHandle,
  file: string,
  position: number,
  out: Float32Array,
  blockBytes: number,
  decode: (bytes: Uint8Array, out: Float32Array) => void,
  blockElems = 1,
  chunkBytes = CHUNK_BYTES,
): Promise<void> {
  const blocks = out.length / blockElems;
  const perChunk = Math.max(1, Math.floor(chunkBytes / blockBytes));
  const scratch = new Uint8Array(Math.min(blocks, perChunk) * blockBytes);
  for (let b = 0; b < blocks; b += perChunk) {
    const n = Math.min(perChunk, blocks - b);
    const bytes = scratch.subarray(0, n * blockBytes);
    await readExact(fd, bytes, position + b * blockBytes, file);
    decode(bytes, out.subarray(b * blockElems, (b + n) * blockElems));
  }
}

/**
 * Allocate the float32 output of a tensor. Validation has already tied the element count to bytes present in the
 * file, so this only fails for tensors beyond what a typed array can hold — reported as such, not as a RangeError.
 */
export function allocFloat32(numel: number, what: string): Float32Array {
  try {
    return new Float32Array(numel);
  } catch {
    throw new KolmError(`${what}: ${numel} elements do not fit in one Float32Array`);
  }
}

/** Sequential writer over a file handle that counts the bytes it has written. */
export class Sink {
  offset = 0;
  constructor(private readonly fd: FileHandle) {}

  async write(bytes: Uint8Array): Promise<void> {
    for (let done = 0; done < bytes.length; ) {
      const n = Math.min(CHUNK_BYTES, bytes.length - done);
      const { bytesWritten } = await this.fd.write(bytes, done, n, this.offset);
      if (bytesWritten === 0) throw new Error('write made no progress'); // never loop forever on a stuck device
      done += bytesWritten;
      this.offset += bytesWritten;
    }
  }

  /** Write zero bytes until the offset is a multiple of `alignment`. */
  async pad(alignment: number): Promise<void> {
    const n = (alignment - (this.offset % alignment)) % alignment;
    if (n > 0) await this.write(new Uint8Array(n));
  }
}

/**
 * Create `path` by streaming into a sibling temp file, flushing it to disk and renaming it over the target, so readers
 * see the old file or the whole new one — never a half-written checkpoint — and memory stays one chunk per tensor.
 */
export async function writeStreamAtomic(path: string, body: (sink: Sink) => Promise<void>): Promise<void> {
  await fsp.mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  const fd = await fsp.open(tmp, 'w');
  try {
    await body(new Sink(fd));
    await fd.sync();
    await fd.close();
    await fsp.rename(tmp, path);
  } catch (err) {
    await fd.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}
