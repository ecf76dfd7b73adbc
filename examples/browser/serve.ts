/**
 * `npm run example:browser`: bundles the browser example (examples/browser/) with esbuild and
 * serves it on http://127.0.0.1 until Ctrl-C. Open the printed address in a browser.
 *
 * Usage: `npm run example:browser`
 */
import * as path from 'path';
import { ROOT, serve } from '../../scripts/browser/serve';
import { examplePage } from './build';

serve({ dir: path.join(ROOT, '.cache', 'browser-example'), ...examplePage() }).then((served) => {
  console.log(`Serving the example at ${served.origin}/example.html  (?backend=wasm|cpu, ?epochs=N; Ctrl-C stops)`);
}, (err) => {
  console.error(err);
  process.exit(1);
});
