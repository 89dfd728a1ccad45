// Connection loss between the coordinator and a trainer (real processes, a TCP proxy in between that
// stops forwarding without closing anything, like a cut link or a dead NAT entry): the coordinator's
// keepalive notices within ~2 s (GENGAP_KEEPALIVE_*), its WatchRun fails UNAVAILABLE, it keeps
// retrying (new streams wait at most GENGAP_CONNECT_TIMEOUT_MS to connect), and once the link is back
// it follows the same run from the last stored event: the same attempt, one run on the trainer, every
// epoch recorded once.
import assert from 'node:assert/strict';
import { createServer, type Server, Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { JobState } from '@gengap/proto/common/v1/job';
import {
  CoordinatorServiceClient,
  StartExperimentRequest,
} from '@gengap/proto/coordinator/v1/coordinator_service';
import { ListRunsRequest, TrainerServiceClient } from '@gengap/proto/trainer/v1/trainer_service';
import { callUnary, closeClient, createClient, readStream } from '@gengap/service-kit';
import { RUN_LABELS } from '../../services/coordinator/src/orchestration/cell-runner.ts';
import { CoordinatorStore } from '../../services/coordinator/src/store/coordinator-store.ts';
import { type ServiceProcess, startServiceProcess } from '../support/processes.ts';
import { tempRoot, tinyExperimentSpec } from './support/stack.ts';

const EPOCHS = 300;

/** A TCP forwarder that can silently drop everything (a partition) and come back. */
class FlakyLink {
  readonly server: Server;
  private readonly pairs = new Set<[Socket, Socket]>();
  private cut = false;
  port = 0;

  private readonly target: number;

  constructor(target: number) {
    this.target = target;
    this.server = createServer((client) => {
      const upstream = new Socket();
      upstream.connect(this.target, '127.0.0.1');
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      const forward = (from: Socket, to: Socket) =>
        from.on('data', (chunk) => {
          if (!this.cut && !to.destroyed) to.write(chunk);
        });
      forward(client, upstream);
      forward(upstream, client);
      const close = () => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  /** Drop every byte from now on, closing nothing. */
  partition(): void {
    this.cut = true;
  }

  /** Forward again; the connections that lived through the partition are torn (their streams lost bytes). */
  heal(): void {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
    this.cut = false;
  }

  close(): void {
    this.heal();
    this.server.close();
  }
}

const root = tempRoot('partition');
let data: ServiceProcess;
let trainer: ServiceProcess;
let coordinator: ServiceProcess;
let link: FlakyLink;

before(async () => {
  data = await startServiceProcess('data', { GENGAP_STATE_DIR: join(root.path, 'data') });
  trainer = await startServiceProcess('trainer', {
    GENGAP_STATE_DIR: join(root.path, 'trainer'),
    GENGAP_DATA_ADDRESS: data.address,
  });
  link = new FlakyLink(trainer.port);
  const port = await link.listen();
  coordinator = await startServiceProcess('coordinator', {
    GENGAP_STATE_DIR: join(root.path, 'coordinator'),
    GENGAP_DATA_ADDRESS: data.address,
    GENGAP_TRAINER_ADDRESSES: `127.0.0.1:${port}`,
    GENGAP_HTTP_PORT: '-1',
    GENGAP_KEEPALIVE_TIME_MS: '1000',
    GENGAP_KEEPALIVE_TIMEOUT_MS: '1000',
    GENGAP_CONNECT_TIMEOUT_MS: '2000',
    GENGAP_UNREACHABLE_BUDGET_MS: '120000',
    GENGAP_RETRY_BASE_MS: '200',
    GENGAP_RETRY_MAX_MS: '1000',
  });
});

after(() => {
  link?.close();
  for (const p of [coordinator, trainer, data]) if (p && p.child.exitCode === null) p.child.kill('SIGKILL');
  root.remove();
});

test('a silent link to the trainer is detected by keepalive and the same run is followed again once it heals', async () => {
  const client = createClient(CoordinatorServiceClient, coordinator.address, { deadlineMs: 30_000 });
  const { experiment } = await callUnary(
    client,
    client.startExperiment,
    StartExperimentRequest.fromPartial({
      source: {
        $case: 'specText',
        value: JSON.stringify(tinyExperimentSpec('partition', [1], EPOCHS, 4096)),
      },
      idempotencyKey: 'partition',
    }),
  );
  const id = experiment?.experimentId as string;
  for await (const m of readStream(client, client.watchExperiment, { experimentId: id, fromSequence: 0 })) {
    const e = m.event?.event;
    if (e?.$case === 'runProgress' && (e.value.epoch?.epoch ?? 0) >= 3) break;
  }
  const before = coordinator.output();
  link.partition();
  const cutAt = Date.now();
  let detectedMs: number | undefined;
  while (Date.now() - cutAt < 8_000) {
    if (
      detectedMs === undefined &&
      /trainer call failed; retrying/.test(coordinator.output().slice(before.length))
    )
      detectedMs = Date.now() - cutAt;
    await sleep(100);
  }
  link.heal();
  assert.ok(
    detectedMs !== undefined && detectedMs < 5_000,
    `keepalive noticed the silent link (${detectedMs} ms)`,
  );

  let state = 0;
  const deadline = Date.now() + 180_000;
  let done: unknown;
  while (Date.now() < deadline) {
    const got = await callUnary(client, client.getExperiment, { experimentId: id });
    state = got.experiment?.status?.state ?? 0;
    if ([3, 4, 5].includes(state)) {
      done = got;
      break;
    }
    await sleep(250);
  }
  const finished = (done as { experiment?: { runs: { cellId: string; runId: string; attempts: number }[] } })
    ?.experiment;
  assert.equal(state, JobState.JOB_STATE_SUCCEEDED, coordinator.output().slice(-3000));
  const [cell] = finished?.runs ?? [];
  assert.equal(cell?.attempts, 1, 'the same attempt carried on');

  const trainers = createClient(TrainerServiceClient, trainer.address);
  const { runs } = await callUnary(
    trainers,
    trainers.listRuns,
    ListRunsRequest.fromPartial({ labels: { [RUN_LABELS.experiment]: id } }),
  );
  closeClient(trainers);
  assert.equal(runs.length, 1, 'one run on the trainer');
  assert.equal(runs[0]?.runId, cell?.runId);
  const store = new CoordinatorStore(join(root.path, 'coordinator', 'coordinator.sqlite'));
  try {
    assert.deepEqual(
      store.epochs(id, cell?.cellId as string, cell?.runId as string).map((e) => e.epoch),
      Array.from({ length: EPOCHS }, (_, i) => i + 1),
      'every epoch recorded once, none lost in the partition',
    );
  } finally {
    store.close();
  }
  closeClient(client);
  console.log(`# partition: detected after ${detectedMs} ms`);
});
