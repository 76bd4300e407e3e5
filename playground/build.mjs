// Rebuilds dist/ from src/ with the pinned esbuild: a flat folder of content-hashed files
// and manifest.json naming the entry files the page loads. Run through ./build.sh.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import * as esbuild from 'esbuild';

const DIST = 'dist';
const PUBLIC_PATH = '/assets/';

const hash = (bytes) => createHash('sha256').update(bytes).digest('hex').slice(0, 8);
const files = new Map(); // file name in dist/ -> contents

function emit(name, ext, contents) {
  const file = `${name}-${hash(contents)}${ext}`;
  files.set(file, contents);
  return file;
}

// GraphiQL's stylesheet embeds its fonts as data: URLs, which `font-src 'self'` refuses.
// Each @font-face source becomes a file of its own, named after its face and hash.
const FONT_TYPES = { 'font/woff2': '.woff2', 'font/woff': '.woff', 'font/ttf': '.ttf' };
function extractFonts(css) {
  const out = css.replace(/@font-face\s*{[^}]*}/g, (face) => {
    const family = /font-family:\s*["']?([^;"'}]+)/.exec(face)?.[1] ?? 'font';
    const weight = /font-weight:\s*([^;}]+)/.exec(face)?.[1] ?? '400';
    const style = /font-style:\s*([^;}]+)/.exec(face)?.[1] ?? 'normal';
    const name = [family, weight, style === 'normal' ? '' : style]
      .join('-')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '');
    return face.replace(
      /url\(\s*(["']?)data:([\w/.+-]+);base64,([A-Za-z0-9+/=]+)\1\s*\)/g,
      (_, _quote, type, data) => {
        const ext = FONT_TYPES[type];
        if (!ext) throw new Error(`unexpected embedded font type ${type}`);
        return `url(${PUBLIC_PATH}${emit(name, ext, Buffer.from(data, 'base64'))})`;
      },
    );
  });
  if (/data:font\//.test(out)) throw new Error('an embedded font is left outside @font-face');
  return out;
}

// What `style-src 'self'` would refuse at run time, changed at build time:
// - react-style-singleton injects <style> elements (for GraphiQL's dialogs and menus): it
//   is swapped for a stand-in of the same interface (src/shims/react-style-singleton.js);
// - CodeMirror's jump-to-line dialog (Alt-G) is an HTML string with style="..." attributes:
//   they go, and app.css styles the field instead.
// A patch that no longer applies fails the build, so an upgrade cannot drop one silently.
const PATCHES = [
  {
    file: /\/node_modules\/codemirror\/addon\/search\/jump-to-line\.js$/,
    replace: [' style="width: 10em"', ' style="color: #888"'],
  },
];
const cspClean = {
  name: 'csp-clean',
  setup(build) {
    build.onResolve({ filter: /^react-style-singleton$/ }, () => ({
      path: new URL('src/shims/react-style-singleton.js', import.meta.url).pathname,
    }));
    for (const { file, replace } of PATCHES) {
      build.onLoad({ filter: file }, ({ path }) => {
        let contents = readFileSync(path, 'utf8');
        for (const text of replace) {
          if (!contents.includes(text)) throw new Error(`${path} no longer contains ${text}`);
          contents = contents.replaceAll(text, '');
        }
        return { contents, loader: 'js' };
      });
    }
  },
};

const result = await esbuild.build({
  entryPoints: { app: 'src/main.jsx' },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome109', 'edge109', 'firefox115', 'safari15.6'],
  jsx: 'automatic',
  define: { 'process.env.NODE_ENV': '"production"' },
  loader: { '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.svg': 'file', '.png': 'file' },
  outdir: DIST,
  entryNames: '[name]',
  assetNames: '[name]-[hash]',
  publicPath: PUBLIC_PATH,
  legalComments: 'eof',
  charset: 'utf8',
  write: false,
  logLevel: 'warning',
  plugins: [cspClean],
});

const manifest = { scripts: [], styles: [] };
for (const output of result.outputFiles) {
  const file = basename(output.path);
  const ext = extname(file);
  if (file === 'app.js') {
    manifest.scripts.push(emit('app', ext, Buffer.from(output.contents)));
  } else if (file === 'app.css') {
    manifest.styles.push(emit('app', ext, Buffer.from(extractFonts(output.text))));
  } else {
    files.set(file, Buffer.from(output.contents)); // an asset, already hashed by esbuild
  }
}

rmSync(DIST, { recursive: true, force: true });
mkdirSync(DIST);
for (const [file, contents] of files) writeFileSync(`${DIST}/${file}`, contents);
writeFileSync(`${DIST}/manifest.json`, `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`dist/: ${files.size + 1} files, ${JSON.stringify(manifest)}`);
