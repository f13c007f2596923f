// Renders docs/api.md from the OpenAPI document the server serves (built from the route table's zod schemas), so the
// reference cannot drift from the code. Run `npm run docs:api` after changing a route; the test suite checks that the
// committed file is current.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderApiDocs } from '../dist/gateway/http/api-docs.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
writeFileSync(join(root, 'docs/api.md'), renderApiDocs());
process.stdout.write('wrote docs/api.md\n');
