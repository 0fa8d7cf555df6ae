// `npm run build` (run by make setup): bundles assets/designer/ with esbuild into
// app/static/vendor/bihuan-modeler/bihuan-modeler.{js,css}; the bpmn font files go beside them.
// An IIFE without eval or new Function, so it runs under the app's CSP (script-src 'self').
import { build } from 'esbuild';

await build({
  entryPoints: { 'bihuan-modeler': 'assets/designer/index.js' },
  outdir: 'app/static/vendor/bihuan-modeler',
  bundle: true,
  format: 'iife',
  minify: true,
  target: ['es2020'],
  legalComments: 'linked',
  loader: { '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.eot': 'file', '.svg': 'file' },
  assetNames: 'font/[name]-[hash]',
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning'
});
