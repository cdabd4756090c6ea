import { KolmError } from '../util/errors.js';

/** A defect in one input: names the file, the line (or Parquet row) and the field, so it can be found and fixed. */
export class BadInputError extends KolmError {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly field: string | undefined,
    readonly problem: string,
    /** Short category used as the drop reason when bad input is skipped. */
    readonly kind: string,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${field !== undefined ? `field "${field}": ` : ''}${problem}`);
  }
}
