// Errors the engine's callers map to gRPC statuses: invalid specs and inputs -> INVALID_ARGUMENT,
// an unavailable device -> FAILED_PRECONDITION. Anything else escaping the engine is a bug.

/** A model, loss, optimizer or call argument that the engine cannot accept; `field` names the culprit. */
export class EngineSpecError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'EngineSpecError';
    this.field = field;
  }
}

/** The requested execution provider (e.g. CUDA) or its GPU is not present on this machine. */
export class DeviceUnavailableError extends Error {
  readonly device: string;
  constructor(device: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DeviceUnavailableError';
    this.device = device;
  }
}
