// After `vite build`: Swagger UI, from the swagger-ui-dist package in node_modules, into the
// build (dist/assets/swagger-ui/), where the service serves it for its API reference at
// `/docs` (src/billing/http/api_docs.py). The page then needs no CDN: it works offline.
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The files the page loads; keep in step with SWAGGER_UI_FILES in api_docs.py.
const FILES = ['swagger-ui-bundle.js', 'swagger-ui.css', 'favicon-32x32.png', 'LICENSE'];

const require = createRequire(import.meta.url);
const source = dirname(require.resolve('swagger-ui-dist/package.json'));
const target = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'assets', 'swagger-ui');
mkdirSync(target, { recursive: true });
for (const name of FILES) {
  copyFileSync(join(source, name), join(target, name));
}
