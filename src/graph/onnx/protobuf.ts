/**
 * A minimal protocol-buffers writer: just the wire types ONNX's ModelProto needs (varint, length-delimited,
 * fixed32 floats). Messages are built bottom-up as lists of byte chunks that nest by reference, so a tensor's bytes
 * are copied once, when the outermost message is finished (a model's weights are most of its bytes).
 */
export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private scratch: number[] = [];
  private length = 0;

  private flush(): void {
    if (this.scratch.length) {
      this.chunks.push(Uint8Array.from(this.scratch));
      this.scratch = [];
    }
  }

  private varintRaw(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    if (v < 0x80n) {
      this.scratch.push(Number(v));
      this.length += 1;
      return;
    }
    while (v >= 0x80n) {
      this.scratch.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
      this.length += 1;
    }
    this.scratch.push(Number(v));
    this.length += 1;
  }

  private tag(field: number, wire: number): void {
    this.varintRaw((field << 3) | wire);
  }

  int(field: number, value: number | bigint): this {
    this.tag(field, 0);
    this.varintRaw(value);
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    for (const x of b) this.scratch.push(x);
    this.length += 4;
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, 2);
    this.varintRaw(data.length);
    this.flush();
    this.chunks.push(data);
    this.length += data.length;
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, inner: ProtoWriter): this {
    inner.flush();
    this.tag(field, 2);
    this.varintRaw(inner.length);
    this.flush();
    for (const c of inner.chunks) this.chunks.push(c);
    this.length += inner.length;
    return this;
  }

  packedInts(field: number, values: readonly (number | bigint)[]): this {
    const inner = new ProtoWriter();
    for (const v of values) inner.varintRaw(v);
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    this.flush();
    if (this.chunks.length === 1) return this.chunks[0]!;
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}
