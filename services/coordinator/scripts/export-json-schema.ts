// Writes services/coordinator/schema/experiment.schema.json from the spec's zod schema.
import { writeFileSync } from 'node:fs';
import { experimentJsonSchemaText, jsonSchemaPath } from '../src/spec/json-schema.ts';

writeFileSync(jsonSchemaPath, experimentJsonSchemaText());
console.log(`wrote ${jsonSchemaPath}`);
