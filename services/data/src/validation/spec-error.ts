// A spec problem found by domain code that also runs in generation workers, where the gRPC error
// classes are not loaded. Validation turns it into InvalidArgumentError; a generation job records it
// as a failure with code INVALID_ARGUMENT and the field path.

export class SpecError extends Error {
  /** Proto JSON path of the offending field, rooted at the request (e.g. "spec.tabular.csvText"). */
  readonly field: string;
  /** The message without the field. */
  readonly reason: string;
  constructor(field: string, reason: string) {
    super(`${field}: ${reason}`);
    this.field = field;
    this.reason = reason;
    this.name = 'SpecError';
  }
}
