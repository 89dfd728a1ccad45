// ONNX Loop: the training graph runs K optimizer steps in one onnxruntime call. The engine never
// differentiates through a loop (each step differentiates its own body), so the rule only infers shapes:
// loop-carried values keep their body shapes and scan outputs gain a leading trip-count axis.
import type { Dim } from '../../ir/types.ts';
import type { OpRule } from '../rule.ts';

export const controlFlowRules: OpRule[] = [
  {
    op: 'Loop',
    nondifferentiable: true,
    infer: (inputs, attrs) => {
      const body = attrs.body;
      if (body?.kind !== 'graph') throw new Error('Loop needs a body graph');
      const carried = inputs.length - 2;
      const outs = body.value.outputs;
      if (outs.length < 1 + carried) throw new Error('Loop body has fewer outputs than carried values');
      const steps: Dim = typeof inputs[0]?.known?.[0] === 'number' ? inputs[0].known[0] : 'K';
      return outs.slice(1).map((v, i) => ({
        dtype: v.dtype,
        shape: i < carried ? v.shape : [steps, ...v.shape],
      }));
    },
  },
];
