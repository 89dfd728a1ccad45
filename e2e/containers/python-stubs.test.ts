// The Python client side of GenGap, without Docker: the committed stubs in clients/python/gengap are
// exactly what clients/python/generate.sh makes from proto/ today, they load in Debian's Python
// (python3-grpcio, python3-protobuf) with every service of the contracts, and they talk to the real
// services (started as processes on loopback, as `gengap up` does): trainer info, presets, and a
// spec error that comes back INVALID_ARGUMENT with the offending field's path in trailing metadata.
// The containers suite (system.test.ts) runs the example client end to end.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import { repoRoot, type ServiceProcess, startServiceProcess } from '../support/processes.ts';

const PYTHON = '/usr/bin/python3';
const clientDir = join(repoRoot, 'clients/python');
const haveProtoc = existsSync('/usr/bin/protoc') && existsSync('/usr/bin/grpc_python_plugin');
const havePython =
  spawnSync(PYTHON, ['-c', 'import grpc, google.protobuf, numpy'], { stdio: 'ignore' }).status === 0;
const pythonMissing = havePython
  ? undefined
  : `${PYTHON} lacks grpc/protobuf/numpy (apt-get install python3-grpcio python3-protobuf python3-numpy)`;
const protocMissing = haveProtoc
  ? undefined
  : 'protoc or grpc_python_plugin missing (apt-get install protobuf-compiler protobuf-compiler-grpc)';

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      if (name === '__pycache__') continue;
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(dir, path));
    }
  };
  walk(dir);
  return out.sort();
}

/** Runs Python code with the stubs on its path; returns its stdout parsed as JSON. */
function python(code: string, env: Record<string, string> = {}): unknown {
  const result = spawnSync(PYTHON, ['-c', code], {
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: clientDir, PYTHONDONTWRITEBYTECODE: '1', ...env },
    timeout: 60_000,
  });
  assert.equal(result.status, 0, `python failed:\n${result.stderr}`);
  return JSON.parse(result.stdout);
}

// Maps a grpc.RpcError to JSON, so that tests see status codes, details and trailing metadata.
const pythonPrelude = `
import json, os, sys, grpc
def call(fn, *args, **kwargs):
    try:
        return {"ok": fn(*args, timeout=30, **kwargs)}
    except grpc.RpcError as e:
        return {"code": e.code().name, "details": e.details(),
                "metadata": {k: v for k, v in (e.trailing_metadata() or ())}}
`;

describe('Python stubs (clients/python)', () => {
  test('the committed stubs are what generate.sh makes from proto/ now', { skip: protocMissing }, () => {
    const out = mkdtempSync(join(tmpdir(), 'gengap-pystubs-'));
    try {
      const result = spawnSync('bash', [join(clientDir, 'generate.sh'), out], { encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
      const fresh = filesUnder(join(out, 'gengap'));
      const committed = filesUnder(join(clientDir, 'gengap'));
      assert.deepEqual(committed, fresh, 'same files (run clients/python/generate.sh)');
      const stale = fresh.filter(
        (file) =>
          readFileSync(join(clientDir, 'gengap', file), 'utf8') !==
          readFileSync(join(out, 'gengap', file), 'utf8'),
      );
      assert.deepEqual(stale, [], 'stale stubs: run clients/python/generate.sh');
      const protos = filesUnder(join(repoRoot, 'proto')).filter((f) => f.endsWith('.proto'));
      for (const proto of protos) {
        const stub = proto.replace(/^gengap\//, '').replace(/\.proto$/, '_pb2.py');
        assert.ok(fresh.includes(stub), `${proto} has a Python module`);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  test('they load in Debian Python and describe every service of the contracts', {
    skip: pythonMissing,
  }, () => {
    const services = python(`
import json
from gengap.data.v1 import data_service_pb2, data_service_pb2_grpc
from gengap.trainer.v1 import trainer_service_pb2, trainer_service_pb2_grpc
from gengap.analysis.v1 import analysis_service_pb2, analysis_service_pb2_grpc
from gengap.coordinator.v1 import coordinator_service_pb2, coordinator_service_pb2_grpc
mods = [data_service_pb2, trainer_service_pb2, analysis_service_pb2, coordinator_service_pb2]
print(json.dumps({s.full_name: [m.name for m in s.methods] for mod in mods for s in mod.DESCRIPTOR.services_by_name.values()}))
`) as Record<string, string[]>;
    assert.deepEqual(Object.keys(services).sort(), [
      'gengap.analysis.v1.AnalysisService',
      'gengap.coordinator.v1.CoordinatorService',
      'gengap.data.v1.DataService',
      'gengap.trainer.v1.TrainerService',
    ]);
    assert.ok(services['gengap.coordinator.v1.CoordinatorService']?.includes('WatchExperiment'));
    assert.ok(services['gengap.trainer.v1.TrainerService']?.includes('ReadParameters'));
  });

  test('the example client compiles', { skip: pythonMissing }, () => {
    const result = spawnSync(
      PYTHON,
      [
        '-c',
        `import ast,sys; ast.parse(open(sys.argv[1]).read())`,
        join(clientDir, 'examples/run_experiment.py'),
      ],
      { encoding: 'utf8' },
    );
    assert.equal(result.status, 0, result.stderr);
  });
});

describe('Python stubs against the local stack (processes on loopback)', { skip: pythonMissing }, () => {
  const order = ['data', 'trainer', 'analysis', 'coordinator'] as const;
  const started: Partial<Record<(typeof order)[number], ServiceProcess>> = {};

  before(async () => {
    for (const key of order) {
      const env: Record<string, string> = {};
      if (started.data) env.GENGAP_DATA_ADDRESS = started.data.address;
      if (started.trainer) {
        env.GENGAP_TRAINER_ADDRESS = started.trainer.address;
        env.GENGAP_TRAINER_ADDRESSES = started.trainer.address;
      }
      if (started.analysis) env.GENGAP_ANALYSIS_ADDRESS = started.analysis.address;
      started[key] = await startServiceProcess(key, env);
    }
  });

  after(() => {
    for (const p of Object.values(started)) p?.child.kill('SIGKILL');
    for (const p of Object.values(started)) if (p) rmSync(p.stateDir, { recursive: true, force: true });
  });

  /** Skips (with the RPC's name) while a service still answers UNIMPLEMENTED. */
  function skipIfUnimplemented(t: TestContext, result: { code?: string }, rpc: string): boolean {
    if (result.code === 'UNIMPLEMENTED') {
      t.skip(`${rpc} is not implemented by the service yet`);
      return true;
    }
    return false;
  }

  test('TrainerService.GetTrainerInfo: onnxruntime version and CPU device', (t) => {
    const res = python(
      `${pythonPrelude}
from gengap.trainer.v1 import trainer_service_pb2 as t, trainer_service_pb2_grpc as tg
from google.protobuf import json_format
stub = tg.TrainerServiceStub(grpc.insecure_channel(os.environ["TRAINER"]))
r = call(stub.GetTrainerInfo, t.GetTrainerInfoRequest())
if "ok" in r: r["ok"] = json_format.MessageToDict(r["ok"])
print(json.dumps(r))
`,
      { TRAINER: started.trainer?.address as string },
    ) as { ok?: { onnxruntimeVersion?: string; devices?: unknown[] }; code?: string };
    if (skipIfUnimplemented(t, res, 'TrainerService.GetTrainerInfo')) return;
    assert.ok(res.ok, JSON.stringify(res));
    assert.match(res.ok.onnxruntimeVersion ?? '', /^1\.\d+\.\d+/);
    assert.ok((res.ok.devices ?? []).length >= 1);
  });

  test('CoordinatorService.ListPresets: the presets, zhang2017 with a quick size', (t) => {
    const res = python(
      `${pythonPrelude}
from gengap.coordinator.v1 import coordinator_service_pb2 as c, coordinator_service_pb2_grpc as cg
stub = cg.CoordinatorServiceStub(grpc.insecure_channel(os.environ["COORDINATOR"]))
r = call(stub.ListPresets, c.ListPresetsRequest())
if "ok" in r: r["ok"] = [{"name": p.name, "sizes": list(p.sizes)} for p in r["ok"].presets]
print(json.dumps(r))
`,
      { COORDINATOR: started.coordinator?.address as string },
    ) as { ok?: { name: string; sizes: string[] }[]; code?: string };
    if (skipIfUnimplemented(t, res, 'CoordinatorService.ListPresets')) return;
    assert.ok(res.ok, JSON.stringify(res));
    const zhang = res.ok.find((p) => p.name === 'zhang2017');
    assert.ok(zhang, `presets: ${res.ok.map((p) => p.name).join(', ')}`);
    assert.ok(zhang.sizes.includes('quick'));
  });

  test('CoordinatorService.ValidateExperiment: a bad spec is INVALID_ARGUMENT naming the field', (t) => {
    const res = python(
      `${pythonPrelude}
from gengap.coordinator.v1 import coordinator_service_pb2 as c, coordinator_service_pb2_grpc as cg
stub = cg.CoordinatorServiceStub(grpc.insecure_channel(os.environ["COORDINATOR"]))
# The quick preset's resolved spec with a negative learning rate.
ok = call(stub.ValidateExperiment, c.ValidateExperimentRequest(preset=c.PresetRef(name="zhang2017", size="quick")))
if "ok" not in ok:
    print(json.dumps(ok)); sys.exit(0)
spec = ok["ok"].resolved_spec
spec.base.run.optimizer.learning_rate = -1.0
r = call(stub.ValidateExperiment, c.ValidateExperimentRequest(spec=spec))
if "ok" in r: r["ok"] = {"experiment_id": r["ok"].experiment_id}
r["cells"] = len(ok["ok"].cells)
print(json.dumps(r))
`,
      { COORDINATOR: started.coordinator?.address as string },
    ) as { code?: string; details?: string; metadata?: Record<string, string>; cells?: number };
    if (skipIfUnimplemented(t, res, 'CoordinatorService.ValidateExperiment')) return;
    assert.ok((res.cells ?? 0) >= 1, `the preset resolves to cells: ${JSON.stringify(res)}`);
    assert.equal(res.code, 'INVALID_ARGUMENT', JSON.stringify(res));
    const field = res.metadata?.['gengap-field'] ?? '';
    assert.match(field, /learning_?[rR]ate/, `field path in trailing metadata: ${JSON.stringify(res)}`);
    assert.ok(res.details?.includes(field), 'the message names the field too');
  });
});
