/**
 * Incremental detokenisation for streaming: bytes of each new token go through a streaming UTF-8 decoder, so a
 * Korean syllable split over two byte-level tokens is emitted whole; text that might be the start of a stop string
 * is held back until it is known not to be one, and a completed stop string ends the text before it.
 */
export class TextStream {
  private readonly decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  private text = '';
  private emitted = 0;
  stopped = false;

  constructor(private readonly stops: readonly string[] = []) {}

  /** Feed one token's bytes; returns the newly final text (possibly empty). */
  push(bytes: Uint8Array): string {
    if (this.stopped) return '';
    this.text += this.decoder.decode(bytes, { stream: true });
    return this.release(false);
  }

  /** End of generation: flush everything still held back (an unfinished character becomes U+FFFD). */
  finish(): string {
    if (!this.stopped) this.text += this.decoder.decode();
    return this.release(true);
  }

  /** The whole text so far (without any stop string). */
  get value(): string {
    return this.text;
  }

  private release(final: boolean): string {
    let end = this.text.length;
    for (const stop of this.stops) {
      const at = this.text.indexOf(stop, Math.max(0, this.emitted - stop.length + 1));
      if (at >= 0 && at < end) {
        end = at;
        this.stopped = true;
      }
    }
    if (this.stopped) {
      this.text = this.text.slice(0, end);
    } else if (!final) {
      // Hold back the longest suffix that is a proper prefix of some stop string.
      for (const stop of this.stops) {
        for (let k = Math.min(stop.length - 1, this.text.length); k > 0; k--) {
          if (this.text.endsWith(stop.slice(0, k))) {
            end = Math.min(end, this.text.length - k);
            break;
          }
        }
      }
    }
    const delta = this.text.slice(this.emitted, end);
    this.emitted = Math.max(this.emitted, end);
    return delta;
  }
}
