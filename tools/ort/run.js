#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Runs an ONNX model (tools/export_onnx.py's: input "images", output "logits") with ONNX Runtime's
// CPU provider (npm's onnxruntime-node) and prints its version, the ORT settings and the latency
// (median, p90, in run_subnet's format); writes the logits of the last run as raw float32.
//
//   node tools/ort/run.js model.onnx [--input images.f32] [--batch N] [--output logits.f32]
//                         [--threads T] [--repeat R] [--warmup W] [--warmup-ms T] [--seed S]
//                         [--spin 0|1] [--profile]
//   node tools/ort/run.js --version      (prints onnxruntime-node's version: is it installed?)
//
// --input: raw float32 images (batch x 3 x R x R, R from the model's input shape), whose size gives
// the batch; without it, --batch (default: the model's fixed batch, else 1) random images in [-1, 1). Threads: intra_op_num_threads = T,
// inter_op_num_threads = 1, sequential execution, every graph optimisation; --spin 0 stops the
// intra-op threads from spinning while they wait (session.intra_op.allow_spinning, ORT's default 1:
// spinning is fast on idle cores, costly where other processes share them). onnxruntime-node is
// looked up in $EVIT_ORT_MODULES, then <repo>/build/ort/node_modules (where tools/dev.sh test
// installs it: npm install --ignore-scripts onnxruntime-node), then Node's usual places.
// --warmup W: untimed runs before the timed ones (default 1); --warmup-ms T: and more until T ms
// have passed since the first (a shared machine's caches and clocks take a while to settle).
// --profile: also ORT's own per-node profile of the timed runs, summed per operator type and
// printed as ms per forward (the profile file is removed); for ElasticViT models, also summed per
// evit block kind (first_conv, mbconv, reduction, attention, ffn, head: the kinds of run_subnet
// --plan and of evit_bench_model's EVIT_BENCH_PROFILE=1 split), from export_onnx.py's node names.
// Errors: one line "run.js: <reason>" on stderr, exit code 1 (2 for a bad command line).
'use strict';

const fs = require('fs');
const path = require('path');

const PROG = 'run.js';

class UsageError extends Error {}

function fail(message, code) {
  process.stderr.write(`${PROG}: ${message}\n`);
  process.exit(code);
}

function loadOrt() {
  const candidates = [];
  if (process.env.EVIT_ORT_MODULES) candidates.push(path.join(process.env.EVIT_ORT_MODULES, 'onnxruntime-node'));
  candidates.push(path.join(__dirname, '..', '..', 'build', 'ort', 'node_modules', 'onnxruntime-node'));
  candidates.push('onnxruntime-node');
  for (const c of candidates) {
    try {
      return require(c);
    } catch (e) {
      if (e.code !== 'MODULE_NOT_FOUND') throw e;
    }
  }
  throw new Error('onnxruntime-node not found (npm install --ignore-scripts onnxruntime-node in ' +
                  'build/ort, or set EVIT_ORT_MODULES to a node_modules folder)');
}

function parseArgs(argv) {
  const o = {model: null, input: null, output: null, batch: 1, threads: 1, repeat: 20, warmup: 1,
             warmupMs: 0, seed: 1, spin: null, batchGiven: false, profile: false};
  const ints = {'--batch': ['batch', 1, 4096], '--threads': ['threads', 1, 256],
                '--repeat': ['repeat', 0, 100000], '--warmup': ['warmup', 0, 1000],
                '--warmup-ms': ['warmupMs', 0, 600000],
                '--seed': ['seed', 0, 2 ** 31 - 1], '--spin': ['spin', 0, 1]};
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === '--version') {
      o.version = true;
      continue;
    }
    if (a === '--profile') {
      o.profile = true;
      continue;
    }
    if (a === '--help' || a === '-h') {
      process.stdout.write(fs.readFileSync(__filename, 'utf8').split('\n').slice(2, 23)
                               .map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
      process.exit(0);
    }
    if (a in ints || a === '--input' || a === '--output') {
      if (i + 1 >= argv.length) throw new UsageError(`${a} needs a value`);
      const v = argv[++i];
      if (a === '--input') o.input = v;
      else if (a === '--output') o.output = v;
      else {
        const [key, lo, hi] = ints[a];
        const n = Number(v);
        if (!/^[0-9]+$/.test(v) || n < lo || n > hi)
          throw new UsageError(`${a}: '${v}' is not an integer in [${lo}, ${hi}]`);
        o[key] = n;
        if (a === '--batch') o.batchGiven = true;
      }
    } else if (a.startsWith('-')) {
      throw new UsageError(`unknown option '${a}'`);
    } else if (o.model === null) {
      o.model = a;
    } else {
      throw new UsageError(`unexpected argument '${a}'`);
    }
  }
  if (o.model === null && !o.version) throw new UsageError('no model given');
  return o;
}

// The model's input resolution: from the graph's input shape as ORT reports it, else from the
// metadata export_onnx.py writes.
function resolutionOf(session) {
  const meta = session.inputMetadata;
  if (Array.isArray(meta) && meta.length && Array.isArray(meta[0].shape)) {
    const s = meta[0].shape;
    if (s.length === 4 && typeof s[3] === 'number') return s[3];
  }
  throw new Error('cannot tell the model\'s input resolution (not a 4-d input "images"?)');
}

function fixedBatchOf(session) {
  const meta = session.inputMetadata;
  if (Array.isArray(meta) && meta.length && Array.isArray(meta[0].shape) &&
      typeof meta[0].shape[0] === 'number')
    return meta[0].shape[0];
  return null;
}

// Sums the node events of ORT's profile per operator type, per forward (all runs, warm-up
// included, so `runs` divides), prints them largest first and removes the profile.
function printProfile(session, dir, runs) {
  session.endProfiling();
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
  if (!files.length) throw new Error(`--profile: ORT wrote no profile in ${dir}`);
  const events = JSON.parse(fs.readFileSync(path.join(dir, files[0]), 'utf8'));
  const per = new Map();
  let total = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !e.args) continue;
    const op = e.args.op_name || '?';
    per.set(op, (per.get(op) || 0) + e.dur / 1000 / runs);
    total += e.dur / 1000 / runs;
  }
  fs.rmSync(dir, {recursive: true, force: true});
  const rows = [...per.entries()].sort((a, b) => b[1] - a[1]);
  console.log(`profile:  ms per forward by operator (ORT's node profile, ${runs} runs): ` +
              rows.map(([op, ms]) => `${op} ${ms.toFixed(3)}`).join(', ') +
              `; nodes total ${total.toFixed(3)}`);
  const kinds = sumByBlockKind(events.filter((e) => e.cat === 'Node' &&
                                                    e.name.endsWith('_kernel_time')), runs);
  if (kinds)
    console.log('blocks:   ms per forward by evit block kind (the same profile): ' +
                BLOCK_KINDS.map((k) => `${k} ${kinds.get(k).toFixed(3)}`).join(', '));
}

const BLOCK_KINDS = ['first_conv', 'mbconv', 'reduction', 'attention', 'ffn', 'head'];

// The node events of one ElasticViT model summed per evit block kind (ms per forward), or null
// when the names are not export_onnx.py's ElasticViT names. A node's kind comes from its name
// (the official module path export_onnx.py names it after, which ORT keeps, less a leading "n_",
// with suffixes such as "_nchwc" or "/MatMulAddFusion/"); a transformer layer's nodes without a
// kind of their own (its norm, the attention's reshapes) take the kind of their layer (the one
// holding "qkv" or "fc1"), and nodes ORT inserts (ReorderInput, Transpose_token_*,
// gemm_input_reshape, a fused activation's HardSigmoid_*) the kind of the node run before them.
function sumByBlockKind(events, runs) {
  const layerOf = (name) => {
    const m = /feature_exactor\.\d+\.layers\.\d+/.exec(name);
    return m ? m[0] : null;
  };
  const layerKind = new Map();
  for (const e of events) {
    const layer = layerOf(e.name);
    if (!layer || /reduction/.test(e.name)) continue;
    if (/\.qkv/.test(e.name)) layerKind.set(layer, 'attention');
    else if (/\.fc1/.test(e.name)) layerKind.set(layer, 'ffn');
  }
  const kindOf = (name) => {
    if (/(^|_)first_conv/.test(name)) return 'first_conv';
    if (/\.reduction/.test(name)) return 'reduction';
    if (/(^|_)(pre_head|classifier)/.test(name)) return 'head';
    if (/conv_stem\.|\.(dw_conv|pw_conv|pwl_conv|se_|shortcut_)/.test(name)) return 'mbconv';
    const layer = layerOf(name);
    if (layer && layerKind.has(layer)) return layerKind.get(layer);
    if (layer) return 'mbconv';  // an MBConv's residual add ("...layers.j.0.out")
    return null;
  };
  const sums = new Map(BLOCK_KINDS.map((k) => [k, 0]));
  let kind = null;
  for (const e of events) {
    kind = kindOf(e.name) || kind;
    if (kind === null) return null;  // a first node without an ElasticViT name
    sums.set(kind, sums.get(kind) + e.dur / 1000 / runs);
  }
  return sums.get('first_conv') > 0 && sums.get('head') > 0 ? sums : null;
}

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) fail(`${e.message} (see --help)`, 2);
    throw e;
  }
  const ort = loadOrt();
  if (o.version) {
    console.log(`onnxruntime-node ${ort.env.versions ? ort.env.versions.node : '?'}`);
    return;
  }
  if (!fs.existsSync(o.model)) throw new Error(`${o.model}: cannot open the file`);
  const options = {
    executionProviders: ['cpu'],
    intraOpNumThreads: o.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  if (o.spin !== null) options.extra = {session: {intra_op: {allow_spinning: String(o.spin)}}};
  const profileDir = o.profile ? fs.mkdtempSync(path.join(require('os').tmpdir(), 'ort-prof-'))
                               : null;
  if (profileDir) {
    options.enableProfiling = true;
    options.profileFilePrefix = path.join(profileDir, 'profile');
  }
  const session = await ort.InferenceSession.create(o.model, options);
  if (session.inputNames[0] !== 'images' || !session.outputNames.includes('logits'))
    throw new Error(`${o.model}: expected input "images" and output "logits", found ` +
                    `${session.inputNames.join(', ')} -> ${session.outputNames.join(', ')}`);
  const r = resolutionOf(session);
  const per = 3 * r * r;
  const fixed = fixedBatchOf(session);
  let data;
  let batch = o.batchGiven || fixed === null ? o.batch : fixed;
  if (o.input) {
    let buf;
    try {
      buf = fs.readFileSync(o.input);
    } catch (e) {
      throw new Error(`${o.input}: cannot open the file`);
    }
    if (buf.length % (4 * per) !== 0 || buf.length === 0)
      throw new Error(`${o.input}: ${buf.length} bytes is not a whole number of 3x${r}x${r} ` +
                      `float32 images (${4 * per} bytes each)`);
    const n = buf.length / (4 * per);
    if (o.batchGiven && n !== o.batch)
      throw new Error(`${o.input}: holds ${n} images, --batch says ${o.batch}`);
    batch = n;
    data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  } else {
    data = new Float32Array(batch * per);
    let s = (o.seed >>> 0) || 1;  // xorshift32: reproducible random images in [-1, 1)
    for (let i = 0; i < data.length; ++i) {
      s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
      data[i] = (s / 4294967296) * 2 - 1;
    }
  }
  if (fixed !== null && fixed !== batch)
    throw new Error(`${o.model}: the model's batch is fixed at ${fixed}, the input has ${batch}`);
  const feeds = {images: new ort.Tensor('float32', data, [batch, 3, r, r])};
  let out = null;
  // Untimed runs: --warmup of them, then more until --warmup-ms have passed since the first.
  let runs = 0;
  const warmupStart = process.hrtime.bigint();
  const warmupElapsedMs = () => Number(process.hrtime.bigint() - warmupStart) / 1e6;
  while (runs < o.warmup || warmupElapsedMs() < o.warmupMs) {
    out = await session.run(feeds);
    ++runs;
  }
  const ms = [];
  for (let i = 0; i < o.repeat; ++i) {
    const t0 = process.hrtime.bigint();
    out = await session.run(feeds);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  if (out === null) out = await session.run(feeds);
  const logits = out.logits;
  if (profileDir) printProfile(session, profileDir, runs + o.repeat + (o.repeat ? 0 : 1));
  if (o.output) {
    const bytes = Buffer.from(logits.data.buffer, logits.data.byteOffset, logits.data.byteLength);
    try {
      fs.writeFileSync(o.output, bytes);
    } catch (e) {
      throw new Error(`${o.output}: cannot write the file`);
    }
  }
  console.log(`ort:      onnxruntime-node ${ort.env.versions ? ort.env.versions.node : '?'} ` +
              `(CPU provider; intra_op_num_threads ${o.threads}, inter_op_num_threads 1, ` +
              `sequential, graph optimisation all, intra-op spinning ` +
              `${o.spin === null ? 'default' : o.spin ? 'on' : 'off'})`);
  console.log(`model:    ${o.model} (input ${batch}x3x${r}x${r}, logits ${logits.dims.join('x')})`);
  if (ms.length) {
    ms.sort((a, b) => a - b);
    const pct = (p) => ms[Math.round(p * (ms.length - 1))];
    console.log(`latency:  median ${pct(0.5).toFixed(3)} ms, p90 ${pct(0.9).toFixed(3)} ms over ` +
                `${ms.length} runs (batch ${batch}, ${o.threads} thread${o.threads === 1 ? '' : 's'})`);
  }
}

main().catch((e) => fail(String(e && e.message ? e.message : e).split('\n')[0], 1));
