// The contracts library. Message and service code is generated under src/gen (import it as
// "@gengap/proto/<service>/v1/<file>"); this module adds the descriptor set used for reflection.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadFileDescriptorSetFromBuffer, type PackageDefinition } from '@grpc/proto-loader';

/** Path of the buf-built FileDescriptorSet of every GenGap proto (and the well-known types it imports). */
export const descriptorSetPath = fileURLToPath(new URL('../descriptor/gengap.binpb', import.meta.url));

let cached: PackageDefinition | undefined;

/** The package definition of all GenGap services, for @grpc/reflection. */
export function loadPackageDefinition(): PackageDefinition {
  cached ??= loadFileDescriptorSetFromBuffer(readFileSync(descriptorSetPath), {
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return cached;
}

/** Fully qualified names of the four services, as health and reflection report them. */
export const serviceNames = {
  data: 'gengap.data.v1.DataService',
  trainer: 'gengap.trainer.v1.TrainerService',
  analysis: 'gengap.analysis.v1.AnalysisService',
  coordinator: 'gengap.coordinator.v1.CoordinatorService',
} as const;

export type ServiceKey = keyof typeof serviceNames;
