// Every graph kind of several models, in float32 and float64, passes the ONNX checker (Debian
// python3-onnx 1.12, full check including shape inference) exactly as onnxruntime receives it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { OptimizerKind, Precision } from '@gengap/proto/common/v1/model';
import { compileModel, type GraphKind } from '../src/index.ts';
import { dropout, mlp, relu, smallCnn, tabular } from './support/models.ts';

const PYTHON = '/usr/bin/python3';
const probe = spawnSync(PYTHON, ['-c', 'import onnx; print(onnx.__version__)'], { encoding: 'utf8' });
const skip = probe.status === 0 ? false : `${PYTHON} cannot import onnx (apt-get install python3-onnx)`;

const CHECKER = `
import sys, onnx
failures = []
for path in sys.argv[1:]:
    try:
        onnx.checker.check_model(onnx.load(path), full_check=True)
    except Exception as e:
        failures.append(f"{path}: {e}")
print("\\n".join(failures))
sys.exit(1 if failures else 0)
`;

const KINDS: GraphKind[] = [
  'trainLoop',
  'trainLoopSoft',
  'trainLoopSameBatch',
  'trainLoopSameBatchSoft',
  'trainStep',
  'trainStepSoft',
  'eval',
  'grad',
  'hvp',
  'hvpPrepare',
  'hvpApply',
  'inputGradientLoss',
  'inputGradientLogit',
];

describe('ONNX checker', { skip }, () => {
  const models = {
    mlpDropout: mlp([6, 8, 3], relu, [dropout(0.25)]),
    cnn: smallCnn(),
    tabular: tabular(),
  };
  for (const precision of [Precision.PRECISION_FLOAT32, Precision.PRECISION_FLOAT64]) {
    it(`accepts every graph kind (${precision === Precision.PRECISION_FLOAT32 ? 'float32' : 'float64'})`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'gengap-onnx-'));
      try {
        const files: string[] = [];
        for (const [name, spec] of Object.entries(models)) {
          const optimizer = {
            kind: OptimizerKind.OPTIMIZER_KIND_ADAM,
            learningRate: 0,
            momentum: 0,
            beta1: 0,
            beta2: 0,
            epsilon: 0,
            trustCoefficient: 0,
          };
          const model = await compileModel(spec, {
            precision,
            optimizer,
            regularizers: {
              weightDecay: 0.01,
              gradientClipNorm: 1,
              gradientNormPenalty: 0.1,
              augmentRandomShift: 0,
              augmentHorizontalFlip: false,
            },
          });
          const kinds: GraphKind[] = [...KINDS, 'embed:1', `inversion:${name === 'tabular' ? 3 : 1}`];
          for (const kind of kinds) {
            if (kind.startsWith('inversion') && name === 'tabular') continue;
            const file = join(dir, `${name}-${kind.replace(':', '-')}.onnx`);
            writeFileSync(file, model.onnxModel(kind));
            files.push(file);
          }
          // Graphs specialised to a batch size (constant shapes), as the runtime uses them.
          for (const kind of ['trainLoop', 'hvp', 'eval'] as const) {
            const file = join(dir, `${name}-${kind}-batch4.onnx`);
            writeFileSync(file, model.onnxModel(kind, 4));
            files.push(file);
          }
        }
        const result = spawnSync(PYTHON, ['-c', CHECKER, ...files], { encoding: 'utf8' });
        assert.equal(result.status, 0, `checker failures:\n${result.stdout}${result.stderr}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
