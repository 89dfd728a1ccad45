// A typed client for grpc.health.v1, built from grpc-health-check's own service definition.
import {
  type Client,
  type ClientReadableStream,
  makeGenericClientConstructor,
  type ServiceError,
} from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

export const HealthCheckResponse_ServingStatus = {
  UNKNOWN: 'UNKNOWN',
  SERVING: 'SERVING',
  NOT_SERVING: 'NOT_SERVING',
  SERVICE_UNKNOWN: 'SERVICE_UNKNOWN',
} as const;
export type ServingStatus =
  (typeof HealthCheckResponse_ServingStatus)[keyof typeof HealthCheckResponse_ServingStatus];

export interface HealthClient extends Client {
  check(
    request: { service: string },
    options: { deadline: number },
    callback: (err: ServiceError | null, res?: { status: ServingStatus }) => void,
  ): void;
  watch(request: { service: string }): ClientReadableStream<{ status: ServingStatus }>;
}

export const HealthClient = makeGenericClientConstructor(
  healthService,
  'grpc.health.v1.Health',
) as unknown as new (
  address: string,
  credentials: import('@grpc/grpc-js').ChannelCredentials,
) => HealthClient;
