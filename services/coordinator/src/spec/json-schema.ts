// The JSON Schema of the spec file, for editors (YAML language servers, VS Code's json.schemas).
// Generated from the zod schema the coordinator validates with; committed as
// services/coordinator/schema/experiment.schema.json (`npm run schema:gen -w @gengap/coordinator-service`).
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { experimentSpecSchema, SCHEMA_VERSION } from './schema/experiment.ts';

export const jsonSchemaPath = fileURLToPath(new URL('../../schema/experiment.schema.json', import.meta.url));

export function experimentJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(experimentSpecSchema, {
    io: 'input',
    target: 'draft-2020-12',
  }) as Record<string, unknown>;
  return {
    ...schema,
    $id: `https://gengap.dev/schema/experiment.v${SCHEMA_VERSION}.schema.json`,
    title: `GenGap experiment spec (schema version ${SCHEMA_VERSION})`,
  };
}

/** The file's text: stable key order from the schema, two-space indent, trailing newline. */
export function experimentJsonSchemaText(): string {
  return `${JSON.stringify(experimentJsonSchema(), null, 2)}\n`;
}
