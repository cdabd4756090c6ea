/**
 * HF's BPE model on byte-level files (a ByteLevel pre-tokenizer): kolm's byte BPE (`../bpe.ts`) on UTF-8 bytes, with
 * `ignore_merges` (a pre-token that is itself in the vocabulary is one token). Other files run `CharBpe`
 * (`char-bpe.ts`).
 */
import { BpeModel } from '../../bpe.js';
import { bytesToToken, utf8Encode } from '../../byte-level.js';

/** Appends the ids of one pre-token to `out`. */
export interface PieceModel {
  encodePiece(piece: string, out: number[]): void;
  /** The model caches the words of a piece itself, so caching whole pieces would only repeat that work. */
  readonly cachesWords?: boolean;
}

export class ByteBpe implements PieceModel {
  private readonly scratch = { buf: new Uint8Array(256) };

  constructor(
    readonly bpe: BpeModel,
    private readonly ignoreMerges: boolean,
  ) {}

  encodePiece(piece: string, out: number[]): void {
    const n = utf8Encode(piece, this.scratch);
    if (this.ignoreMerges && n > 1) {
      const id = this.bpe.vocab.get(bytesToToken(this.scratch.buf.subarray(0, n)));
      if (id !== undefined) {
        out.push(id);
        return;
      }
    }
    this.bpe.encodeBytes(this.scratch.buf, n, out);
  }
}
