// ONNX Scan: the training graph runs K optimizer steps in one onnxruntime call. The engine never
// differentiates through it (each step differentiates its own body), so the rule only infers shapes:
// state variables keep their body shapes and scan outputs gain the leading axis of the scan inputs.
import type { OpRule } from '../rule.ts';

export const controlFlowRules: OpRule[] = [
  {
    op: 'Scan',
    nondifferentiable: true,
    infer: (inputs, attrs) => {
      const body = attrs.body;
      const scanInputs = attrs.num_scan_inputs;
      if (body?.kind !== 'graph') throw new Error('Scan needs a body graph');
      if (scanInputs?.kind !== 'int' || scanInputs.value < 1) throw new Error('Scan needs num_scan_inputs');
      const states = inputs.length - scanInputs.value;
      const first = inputs[states];
      if (states < 0 || first === undefined) throw new Error('Scan has fewer inputs than num_scan_inputs');
      const steps = first.shape[0]!;
      return body.value.outputs.map((v, i) => ({
        dtype: v.dtype,
        shape: i < states ? v.shape : [steps, ...v.shape],
      }));
    },
  },
];
