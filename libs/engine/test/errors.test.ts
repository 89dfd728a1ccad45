// Invalid specs and arguments fail with EngineSpecError naming the field; CUDA without its provider
// libraries or a GPU fails with DeviceUnavailableError.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Device, LossKind } from '@gengap/proto/common/v1/model';
import { compileModel, DeviceUnavailableError, EngineSpecError } from '../src/index.ts';
import { dense, flatten, mlp } from './support/models.ts';

async function rejectsWith(promise: Promise<unknown>, field: string): Promise<void> {
  await assert.rejects(promise, (e: unknown) => e instanceof EngineSpecError && e.field === field);
}

describe('errors', () => {
  it('names the field of an invalid model spec', async () => {
    await rejectsWith(
      compileModel({ inputShape: [], numOutputs: 2, layers: [dense(2)] }),
      'model.inputShape',
    );
    await rejectsWith(
      compileModel({ inputShape: [4], numOutputs: 3, layers: [dense(2)] }),
      'model.numOutputs',
    );
    await rejectsWith(
      compileModel({ inputShape: [4], numOutputs: 2, layers: [dense(0)] }),
      'model.layers[0].dense',
    );
    await rejectsWith(
      compileModel({ inputShape: [4], numOutputs: 2, layers: [{ name: '', kind: undefined }] }),
      'model.layers[0]',
    );
    const conv = {
      name: '',
      kind: {
        $case: 'conv2d' as const,
        value: { outChannels: 2, kernelSize: 3, stride: 0, padding: 0, noBias: false },
      },
    };
    await rejectsWith(
      compileModel({ inputShape: [4], numOutputs: 2, layers: [conv, flatten, dense(2)] }),
      'model.layers[0].conv2d',
    );
  });

  it('rejects bad options and arguments', async () => {
    await rejectsWith(
      compileModel(mlp([4, 2]), { loss: { kind: LossKind.LOSS_KIND_CROSS_ENTROPY, temperature: -1 } }),
      'loss.temperature',
    );
    await rejectsWith(compileModel(mlp([4, 2]), { frozenParameters: ['nope'] }), 'frozenParameters');
    await rejectsWith(compileModel(mlp([4, 2]), { threads: 0.5 }), 'threads');
    const m = await compileModel(mlp([4, 2]));
    m.initParameters(0);
    await rejectsWith(m.evaluate(new Float32Array(7), Int32Array.of(0, 1)), 'x');
    await rejectsWith(m.evaluate(new Float32Array(8), Int32Array.of(0)), 'labels');
    await rejectsWith(m.hvp(new Float32Array(8), Int32Array.of(0, 1), new Float32Array(3)), 'vector');
    await rejectsWith(
      m.trainSteps({ x: new Float32Array(8), y: Int32Array.of(0, 1), learningRates: [] }),
      'learningRates',
    );
    assert.throws(() => m.parameters.load(new Float32Array(3)), EngineSpecError);
  });

  it('reports a missing CUDA execution provider as DeviceUnavailableError', async (t) => {
    try {
      const m = await compileModel(mlp([4, 2]), { device: Device.DEVICE_CUDA });
      // A machine with the CUDA providers and a GPU: the model must run there.
      m.initParameters(0);
      const r = await m.evaluate(new Float32Array(8), Int32Array.of(0, 1));
      assert.equal(r.perExampleLoss.length, 2);
      t.diagnostic('CUDA execution provider available: ran on the GPU');
    } catch (e) {
      assert.ok(e instanceof DeviceUnavailableError, `expected DeviceUnavailableError, got ${e}`);
      assert.equal(e.device, 'cuda');
      assert.match(e.message, /CUDA execution provider is not available/);
    }
  });
});
