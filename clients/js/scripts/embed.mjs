// Builds the server's /embed.js (frontend/static/embed.js) from the package's module: the same code, wrapped as a
// classic script that sets window.LiveCheck. `npm run build:embed` writes it; `--check` fails when it differs
// (test/embed.test.js and tests/test_embed_script.py check the same).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SOURCE = fileURLToPath(new URL('../src/livecheck.js', import.meta.url));
export const TARGET = fileURLToPath(new URL('../../../frontend/static/embed.js', import.meta.url));
const EXPORTS = /^export \{([^}]*)\};\n$/m;

export function classicScript(source) {
  const match = source.match(EXPORTS);
  if (!match || source.indexOf(match[0]) + match[0].length !== source.length) {
    throw new Error('livecheck.js must end with one `export { ... };` line');
  }
  const names = match[1].split(',').map((name) => name.trim()).filter(Boolean);
  return '/* GENERATED from clients/js/src/livecheck.js by clients/js/scripts/embed.mjs: edit that file, then run\n'
    + ' * `npm run build:embed` in clients/js. Load it with <script src=".../embed.js"> and use window.LiveCheck. */\n'
    + '(function () {\n\'use strict\';\n'
    + source.slice(0, source.length - match[0].length)
    + 'window.LiveCheck = Object.freeze({ ' + names.map((n) => n + ': ' + n).join(', ') + ' });\n'
    + '})();\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const wanted = classicScript(readFileSync(SOURCE, 'utf8'));
  if (process.argv.includes('--check')) {
    if (readFileSync(TARGET, 'utf8') !== wanted) {
      console.error('frontend/static/embed.js differs from clients/js/src/livecheck.js: run npm run build:embed');
      process.exit(1);
    }
  } else {
    writeFileSync(TARGET, wanted);
  }
}
