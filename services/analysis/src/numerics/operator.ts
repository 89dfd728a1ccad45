// The one interface every Krylov method and trace estimator works against: a symmetric linear map
// on R^n applied to Float64 vectors, asynchronously (a Hessian-vector product is a graph run).

export interface SymmetricOperator {
  readonly dimension: number;
  /** Returns A v as a new array; must not modify `v`. */
  apply(v: Float64Array): Promise<Float64Array>;
}

/** Cancellation and progress for long iterative methods. */
export interface IterationHooks {
  signal?: AbortSignal | undefined;
  /**
   * Called after each step (a matrix-vector product, an optimizer iteration) with the number of steps
   * done and planned. Awaited: a caller yields to the event loop here so a server stays responsive.
   */
  onStep?: ((done: number, planned: number) => void | Promise<void>) | undefined;
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new Error('aborted');
}

/** A dense row-major symmetric matrix as an operator (tests, small blocks). */
export function denseOperator(matrix: ArrayLike<number>, n: number): SymmetricOperator {
  return {
    dimension: n,
    apply: async (v) => {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        let s = 0;
        const row = i * n;
        for (let j = 0; j < n; j++) s += matrix[row + j]! * v[j]!;
        out[i] = s;
      }
      return out;
    },
  };
}
