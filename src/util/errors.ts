/** An error meant for the user: printed without a stack trace by the CLI. Messages name the file/field/value at fault. */
export class KolmError extends Error {
  override name = 'KolmError';
}
