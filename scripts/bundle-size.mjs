// Prints the browser bundle's sizes (raw, gzip -9, brotli q11) and fails when Lookout's own
// code — the islands' WASM, its wasm-bindgen glue and the chart module — passes the budget.
// uPlot is listed apart (a separate, cached file). Usage: node scripts/bundle-size.mjs [site-root]
import { readFileSync, existsSync } from 'node:fs';
import { brotliCompressSync, gzipSync, constants } from 'node:zlib';

const site = process.argv[2] ?? 'target/site';
const BUDGET = 150_000;
const own = ['pkg/lookout.wasm', 'pkg/lookout.js', 'js/lookout.js'];
const vendor = ['vendor/uplot/uPlot.iife.min.js', 'vendor/uplot/uPlot.min.css'];

function sizes(path) {
  const data = readFileSync(`${site}/${path}`);
  const brotli = brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length } }).length;
  return { raw: data.length, gzip: gzipSync(data, { level: 9 }).length, brotli };
}

let total = 0;
console.log('file | raw | gzip -9 | brotli q11');
for (const [group, files] of [['Lookout', own], ['uPlot (separate)', vendor]]) {
  for (const file of files) {
    if (!existsSync(`${site}/${file}`)) {
      console.error(`missing ${site}/${file}: build first (cargo leptos build --release)`);
      process.exit(1);
    }
    const s = sizes(file);
    if (group === 'Lookout') total += s.brotli;
    console.log(`${file} | ${s.raw} | ${s.gzip} | ${s.brotli}`);
  }
}
console.log(`Lookout's own code, brotli: ${total} B (budget ${BUDGET} B)`);
if (total > BUDGET) {
  console.error(`over budget by ${total - BUDGET} B`);
  process.exit(1);
}
