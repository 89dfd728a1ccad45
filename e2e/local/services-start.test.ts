// The foundation's promises, checked on the real processes: each of the four services starts,
// reports SERVING, lists its service through reflection, answers UNIMPLEMENTED for a method it does
// not have, drains on SIGTERM (health flips to NOT_SERVING before the port closes), and refuses an
// invalid configuration value at start-up with a message naming it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { serviceNames } from '@gengap/proto';
import { status } from '@grpc/grpc-js';
import { callRaw, checkHealth, healthClient, listServicesByReflection } from '../support/grpc-probes.ts';
import { runServiceToExit, type ServiceProcess, startServiceProcess } from '../support/processes.ts';

const order = ['data', 'trainer', 'analysis', 'coordinator'] as const;

describe('the four services on loopback', () => {
  const started: Partial<Record<(typeof order)[number], ServiceProcess>> = {};

  before(async () => {
    for (const key of order) {
      const env: Record<string, string> = {};
      if (started.data) env.GENGAP_DATA_ADDRESS = started.data.address;
      if (started.trainer) env.GENGAP_TRAINER_ADDRESSES = started.trainer.address;
      if (started.trainer) env.GENGAP_TRAINER_ADDRESS = started.trainer.address;
      if (started.analysis) env.GENGAP_ANALYSIS_ADDRESS = started.analysis.address;
      started[key] = await startServiceProcess(key, env);
    }
  });

  after(() => {
    for (const p of Object.values(started)) p?.child.kill('SIGKILL');
  });

  for (const key of order) {
    test(`${key}: SERVING overall and for ${serviceNames[key]}`, async () => {
      const proc = started[key] as ServiceProcess;
      assert.equal(await checkHealth(proc.address), 'SERVING');
      assert.equal(await checkHealth(proc.address, serviceNames[key]), 'SERVING');
    });

    test(`${key}: reflection lists its service, health and reflection`, async () => {
      const names = await listServicesByReflection((started[key] as ServiceProcess).address);
      assert.ok(names.includes(serviceNames[key]), `reflection lists ${names.join(', ')}`);
      assert.ok(names.includes('grpc.health.v1.Health'));
    });

    test(`${key}: a method the service does not have answers UNIMPLEMENTED`, async () => {
      const res = await callRaw(
        (started[key] as ServiceProcess).address,
        `/${serviceNames[key]}/NoSuchMethod`,
      );
      assert.equal(res.code, status.UNIMPLEMENTED);
    });
  }

  test('SIGTERM: health turns NOT_SERVING before the port closes, then the process exits 0', async () => {
    const proc = await startServiceProcess('data', { GENGAP_DRAIN_DELAY_MS: '500' });
    const client = healthClient(proc.address);
    const seen: string[] = [];
    const stream = client.watch({ service: '' });
    const ended = new Promise<void>((resolve) => {
      stream.on('data', (m: { status: string }) => {
        seen.push(m.status);
        if (m.status === 'SERVING') proc.child.kill('SIGTERM');
      });
      stream.on('error', () => resolve());
      stream.on('end', () => resolve());
    });
    await ended;
    client.close();
    assert.deepEqual(seen.slice(0, 2), ['SERVING', 'NOT_SERVING']);
    assert.equal(await proc.exited, 0);
    await assert.rejects(checkHealth(proc.address), 'the port is closed after the drain');
  });

  test('an invalid configuration value stops start-up with a message naming it', async () => {
    const { code, output } = await runServiceToExit('trainer', { GENGAP_PORT: 'not-a-port' });
    assert.equal(code, 78);
    assert.match(output, /GENGAP_PORT/);
    const maxMsg = await runServiceToExit('data', { GENGAP_MAX_MESSAGE_BYTES: '12' });
    assert.equal(maxMsg.code, 78);
    assert.match(maxMsg.output, /GENGAP_MAX_MESSAGE_BYTES/);
  });
});
