// ListPresets' "missing analyses" come from AnalysisService.GetAnalysisInfo (one call, nothing
// started); an analysis service older than that RPC, which answers it UNIMPLEMENTED, is probed kind by
// kind with StartAnalysis as before. The real analysis service implements every kind and the RPC (see
// coordinator-service.test.ts), so the two situations are played by stand-ins: GenGapServers bound to
// the generated AnalysisService definition with only some handlers (the others answer UNIMPLEMENTED,
// as a partial or older service does), called over gRPC by the real coordinator.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  AnalysisServiceService,
  type StartAnalysisRequest,
} from '@gengap/proto/analysis/v1/analysis_service';
import { callUnary, GenGapError, GenGapServer, InvalidArgumentError } from '@gengap/service-kit';
import { analysisKinds } from '../src/spec/schema/analysis.ts';
import { type CoordinatorHandle, settingsFor, startCoordinator, tempDir } from './support/services.ts';

const dir = tempDir('capabilities');
const closers: (() => Promise<void>)[] = [];

after(async () => {
  for (const close of closers.reverse()) await close();
  dir.remove();
});

const snake = (kind: string) => kind.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const UNIMPLEMENTED = 12;

/** An analysis service stand-in with the given handlers; counts StartAnalysis calls. */
async function standIn(handlers: {
  getAnalysisInfo?: () => unknown;
  startAnalysis: (request: StartAnalysisRequest) => unknown;
}): Promise<{ address: string; starts: StartAnalysisRequest[] }> {
  const starts: StartAnalysisRequest[] = [];
  const server = new GenGapServer(settingsFor('analysis'));
  server.addService(AnalysisServiceService, {
    ...(handlers.getAnalysisInfo ? { getAnalysisInfo: handlers.getAnalysisInfo } : {}),
    startAnalysis: (request: StartAnalysisRequest) => {
      starts.push(request);
      return handlers.startAnalysis(request);
    },
  });
  const port = await server.listen('127.0.0.1', 0);
  server.setServing(true);
  closers.push(() => server.shutdown());
  return { address: `127.0.0.1:${port}`, starts };
}

async function coordinatorFor(analysisAddress: string, name: string): Promise<CoordinatorHandle> {
  // ListPresets needs no data service or trainer: nothing listens at these addresses.
  const coordinator = await startCoordinator({
    stateDir: `${dir.path}/${name}`,
    dataAddress: '127.0.0.1:1',
    trainerAddresses: ['127.0.0.1:1'],
    analysisAddress,
  });
  closers.push(() => coordinator.close());
  return coordinator;
}

async function missingByPreset(coordinator: CoordinatorHandle): Promise<Map<string, string[]>> {
  const { presets } = await callUnary(coordinator.client, coordinator.client.listPresets, {});
  return new Map(presets.map((p) => [p.name, p.missingAnalyses]));
}

test('ListPresets asks GetAnalysisInfo which kinds exist and starts nothing', async () => {
  const served = analysisKinds.filter((k) => k !== 'ensembleDisagreement' && k !== 'hessianEigen').map(snake);
  const service = await standIn({
    getAnalysisInfo: () => ({ version: 'stand-in', kinds: served, maxConcurrentAnalyses: 1 }),
    startAnalysis: () => {
      throw new InvalidArgumentError('spec.checkpoint', 'is required');
    },
  });
  const missing = await missingByPreset(await coordinatorFor(service.address, 'info'));
  assert.deepEqual(missing.get('detectron'), ['ensembleDisagreement: not implemented yet']);
  assert.ok(missing.get('keskar2017')?.includes('hessianEigen: not implemented yet'));
  assert.deepEqual(missing.get('zhang2017'), []);
  assert.equal(service.starts.length, 0, 'no StartAnalysis probe');
});

test('an analysis service without GetAnalysisInfo is probed kind by kind', async () => {
  const service = await standIn({
    startAnalysis: (request) => {
      if (request.spec?.kind?.$case === 'ensembleDisagreement')
        throw new GenGapError(UNIMPLEMENTED, 'ensemble_disagreement is not implemented');
      throw new InvalidArgumentError('spec.checkpoint', 'is required');
    },
  });
  const missing = await missingByPreset(await coordinatorFor(service.address, 'probe'));
  assert.deepEqual(missing.get('detectron'), ['ensembleDisagreement: not implemented yet']);
  assert.deepEqual(missing.get('zhang2017'), []);
  assert.ok(service.starts.length > 1, 'one probe per kind');
  assert.ok(service.starts.every((s) => s.labels['gengap/probe'] === 'true'));
});
