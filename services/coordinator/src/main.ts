// Composition root of the coordinator service: config, logger, dependencies, server, signals.
import { serviceNames } from '@gengap/proto';
import { runServiceMain, serverSettingsFrom } from '@gengap/service-kit';
import { createServer } from './server.ts';

await runServiceMain({
  name: 'coordinator',
  configShape: {},
  build(config, log) {
    const settings = serverSettingsFrom(config, log, [serviceNames.coordinator]);
    return { server: createServer({ settings }) };
  },
});
