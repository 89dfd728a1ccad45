// Static shape arithmetic with symbolic dimensions. A symbolic dimension is a string such as 'N'; a
// product of dimensions that involves symbols is written as the symbols joined by '*', prefixed with the
// numeric factor when it is not 1 (e.g. 'N' * 784 * 'K' -> '784*K*N').
import type { Dim, Shape } from './types.ts';

export function broadcastShapes(...shapes: Shape[]): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let dim: Dim = 1;
    for (const s of shapes) {
      const d = s[s.length - rank + i];
      if (d === undefined || d === 1) continue;
      if (dim === 1) dim = d;
      else if (d !== dim) {
        if (typeof d === 'number' && typeof dim === 'number') {
          throw new Error(`shapes [${shapes.map((x) => x.join(',')).join('] and [')}] do not broadcast`);
        }
        // A symbol against a number: the number wins (the symbol must equal it at run time).
        if (typeof d === 'number') dim = d;
      }
    }
    out.push(dim);
  }
  return out;
}

interface Monomial {
  factor: number;
  symbols: string[];
}

function monomialOf(dims: readonly Dim[]): Monomial {
  let factor = 1;
  const symbols: string[] = [];
  for (const d of dims) {
    if (typeof d === 'number') factor *= d;
    else {
      const parts = d.split('*');
      for (const p of parts) {
        const n = Number(p);
        if (Number.isFinite(n) && p !== '') factor *= n;
        else symbols.push(p);
      }
    }
  }
  return { factor, symbols: symbols.sort() };
}

function dimOfMonomial(m: Monomial): Dim {
  if (m.symbols.length === 0) return m.factor;
  const sym = m.symbols.join('*');
  return m.factor === 1 ? sym : `${m.factor}*${sym}`;
}

/** The product of dimensions, symbolic when any of them is. */
export function dimProduct(dims: readonly Dim[]): Dim {
  return dimOfMonomial(monomialOf(dims));
}

function dimQuotient(total: Monomial, part: Monomial): Dim {
  const symbols = [...total.symbols];
  for (const s of part.symbols) {
    const i = symbols.indexOf(s);
    if (i < 0) throw new Error(`cannot infer a reshape: ${s} does not divide the element count`);
    symbols.splice(i, 1);
  }
  if (total.factor % part.factor !== 0) throw new Error('reshape: element counts do not divide');
  return dimOfMonomial({ factor: total.factor / part.factor, symbols });
}

/** ONNX Reshape semantics: 0 copies the input dimension, -1 is inferred (allowzero = 0). */
export function reshapeShape(input: Shape, target: readonly Dim[]): Dim[] {
  const out: Dim[] = target.map((d, i) => (d === 0 ? input[i]! : d));
  const inferred = out.indexOf(-1);
  if (inferred >= 0) {
    const rest = out.filter((_, i) => i !== inferred);
    out[inferred] = dimQuotient(monomialOf(input), monomialOf(rest));
  }
  return out;
}

/** Output length of a convolution or pooling window along one axis. */
export function windowOutput(
  size: Dim,
  kernel: number,
  stride: number,
  padBegin: number,
  padEnd: number,
  dilation = 1,
): Dim {
  if (typeof size !== 'number') throw new Error('convolution and pooling need static spatial dimensions');
  const span = dilation * (kernel - 1) + 1;
  const out = Math.floor((size + padBegin + padEnd - span) / stride) + 1;
  if (out < 1)
    throw new Error(`window of ${span} with padding ${padBegin}+${padEnd} does not fit in ${size}`);
  return out;
}
