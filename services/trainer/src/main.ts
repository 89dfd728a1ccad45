// Composition root of the trainer service: config, logger, dependencies, server, signals.
import { serviceNames } from '@gengap/proto';
import { runServiceMain, serverSettingsFrom } from '@gengap/service-kit';
import { createServer } from './server.ts';

await runServiceMain({
  name: 'trainer',
  configShape: {},
  build(config, log) {
    const settings = serverSettingsFrom(config, log, [serviceNames.trainer]);
    return { server: createServer({ settings }) };
  },
});
