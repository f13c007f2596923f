// Lets @modelcontextprotocol/conformance (built for Node 22) start on Node 20: its `import { globSync } from 'fs'`
// is served by fs.mjs. Its server command never calls globSync (only its tier report does).
//   node --import ./register.mjs node_modules/@modelcontextprotocol/conformance/dist/index.js server ...
import { register } from 'node:module';
register('./hooks.mjs', import.meta.url);
