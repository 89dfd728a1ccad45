// Composition root of the analysis service: config, logger, dependencies, server, signals.
import { serviceNames } from '@gengap/proto';
import { runServiceMain, serverSettingsFrom } from '@gengap/service-kit';
import { createServer } from './server.ts';

await runServiceMain({
  name: 'analysis',
  configShape: {},
  build(config, log) {
    const settings = serverSettingsFrom(config, log, [serviceNames.analysis]);
    return { server: createServer({ settings }) };
  },
});
