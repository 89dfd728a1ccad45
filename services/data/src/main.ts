// Composition root of the data service: config, logger, dependencies, server, signals.
import { serviceNames } from '@gengap/proto';
import { runServiceMain, serverSettingsFrom } from '@gengap/service-kit';
import { createServer } from './server.ts';

await runServiceMain({
  name: 'data',
  configShape: {},
  build(config, log) {
    const settings = serverSettingsFrom(config, log, [serviceNames.data]);
    return { server: createServer({ settings }) };
  },
});
