// Matrix products. Gemm computes alpha * op(A) op(B) + beta * C with op = optional transpose; the dense
// layer is Gemm(x, W, b, transB) with W stored [out, in] as in PyTorch. Both operands' cotangents are
// Gemms again with the transpose flags rearranged; only the dense weight's cotangent transposes its
// (small) cotangent operand explicitly, see the VJP.
import { addMaybe, type Builder } from '../../ir/builder.ts';
import { broadcastShapes } from '../../ir/shape.ts';
import { type Dim, floatAttr, intAttr, type Node, type Value } from '../../ir/types.ts';
import { input, type OpRule, output, requireInput } from '../rule.ts';
import { fitTo } from './elementwise.ts';

interface GemmFlags {
  transA: boolean;
  transB: boolean;
  alpha: number;
  beta: number;
}

function gemmFlags(node: Node): GemmFlags {
  return {
    transA: intAttr(node, 'transA', 0) === 1,
    transB: intAttr(node, 'transB', 0) === 1,
    alpha: floatAttr(node, 'alpha', 1),
    beta: floatAttr(node, 'beta', 1),
  };
}

const gemm: OpRule = {
  op: 'Gemm',
  infer: (inputs, attrs) => {
    const [a, b] = [requireInput(inputs, 0, 'Gemm'), requireInput(inputs, 1, 'Gemm')];
    if (a.shape.length !== 2 || b.shape.length !== 2) throw new Error('Gemm: operands must be matrices');
    const tA = attrs.transA?.kind === 'int' && attrs.transA.value === 1;
    const tB = attrs.transB?.kind === 'int' && attrs.transB.value === 1;
    const [m, kA] = tA ? [a.shape[1]!, a.shape[0]!] : [a.shape[0]!, a.shape[1]!];
    const [kB, n] = tB ? [b.shape[1]!, b.shape[0]!] : [b.shape[0]!, b.shape[1]!];
    if (typeof kA === 'number' && typeof kB === 'number' && kA !== kB) {
      throw new Error(`Gemm: inner dimensions ${kA} and ${kB} differ`);
    }
    if (a.dtype !== b.dtype) throw new Error('Gemm: operand dtypes differ');
    const shape: Dim[] = [m, n];
    if (inputs[2] !== undefined) broadcastShapes(shape, inputs[2].shape);
    return [{ dtype: a.dtype, shape }];
  },
  vjp: (b, node, [g], want) => {
    if (g === undefined) return [undefined, undefined, undefined];
    const [x, w] = [input(node, 0), input(node, 1)];
    const f = gemmFlags(node);
    const o = { alpha: f.alpha };
    // d op(A) = alpha g op(B)^T, d op(B) = alpha op(A)^T g, then undo each op.
    const da = !want[0]
      ? undefined
      : f.transA
        ? b.gemm(w, g, undefined, { ...o, transA: f.transB, transB: true })
        : b.gemm(g, w, undefined, { ...o, transB: !f.transB });
    // The dense layer's weight cotangent g^T x transposes g explicitly: onnxruntime's Gemm with
    // transA re-transposes A for every 128-column block of the output (x has hundreds of columns),
    // a transposed copy of g is made once. Where its graph optimizer folds the Transpose back into
    // transA (a single-use Transpose), nothing changes.
    const db = !want[1]
      ? undefined
      : f.transB
        ? b.gemm(b.transpose(g, [1, 0]), x, undefined, { ...o, transB: f.transA })
        : b.gemm(x, g, undefined, { ...o, transA: !f.transA });
    const c = node.inputs[2];
    const dc = c !== undefined && want[2] ? b.scale(b.sumToShape(g, c), f.beta) : undefined;
    return [da, db, dc];
  },
  jvp: (b, node, [da, db, dc]) => {
    const [x, w] = [input(node, 0), input(node, 1)];
    const f = gemmFlags(node);
    const o = { transA: f.transA, transB: f.transB, alpha: f.alpha };
    let t: Value | undefined = dc === undefined ? undefined : b.scale(dc, f.beta);
    if (da !== undefined) t = b.gemm(da, w, t, o);
    if (db !== undefined) t = b.gemm(x, db, t, o);
    return [fitTo(b, t, output(node))];
  },
};

/** Swaps the last two axes. */
function swapLast(b: Builder, v: Value): Value {
  const r = v.shape.length;
  const perm = v.shape.map((_, i) => i);
  perm[r - 1] = r - 2;
  perm[r - 2] = r - 1;
  return b.transpose(v, perm);
}

const matmul: OpRule = {
  op: 'MatMul',
  infer: (inputs) => {
    const [a, b] = [requireInput(inputs, 0, 'MatMul'), requireInput(inputs, 1, 'MatMul')];
    if (a.shape.length < 2 || b.shape.length < 2) throw new Error('MatMul: operands of rank >= 2 only');
    if (a.dtype !== b.dtype) throw new Error('MatMul: operand dtypes differ');
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
    return [{ dtype: a.dtype, shape: [...batch, a.shape.at(-2)!, b.shape.at(-1)!] }];
  },
  vjp: (b, node, [g], want) => {
    if (g === undefined) return [undefined, undefined];
    const [x, w] = [input(node, 0), input(node, 1)];
    return [
      want[0] ? b.sumToShape(b.matmul(g, swapLast(b, w)), x) : undefined,
      want[1] ? b.sumToShape(b.matmul(swapLast(b, x), g), w) : undefined,
    ];
  },
  jvp: (b, node, [da, db]) => {
    const [x, w] = [input(node, 0), input(node, 1)];
    const t = addMaybe(b, da && b.matmul(da, w), db && b.matmul(x, db));
    return [fitTo(b, t, output(node))];
  },
};

export const linalgRules: OpRule[] = [gemm, matmul];
