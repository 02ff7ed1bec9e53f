// How the standalone binary's Node runs: V8 flags baked into the SEA blob (`execArgv` in sea-config.json,
// https://nodejs.org/api/single-executable-applications.html#generating-single-executable-preparation-blobs),
// applied before any of our code runs, in every process the binary starts (the agent, its watchdog, the
// emulator, the demo's actors). NODE_OPTIONS can still add or override flags (execArgvExtension "env").
//
// The gateway this is for has 1 GB of RAM shared with the nucleus and other components, and the agent's
// live heap is a few tens of MiB; V8 sizes its young generation for throughput from the machine's RAM
// instead (up to 16 MiB per semi-space, 3 of them, on a large machine). bench/footprint.bench.ts measures
// what each flag buys and costs.
//
// --max-semi-space-size=1   young generation semi-spaces of at most 1 MiB: objects that survive two
//                           scavenges move to the old generation, which is collected by live size. The
//                           agent's allocation is short-lived (one sample, one report at a time).
// --no-turbofan --no-maglev the optimizing compilers off; Ignition and the Sparkplug baseline compiler
//                           remain. Their code is never paged in and their compile jobs allocate nothing:
//                           −9 MiB RSS idle, −17 MiB with 1,000 devices, for +0.5 points of CPU there.
//                           The agent's hot paths are I/O and native (JSON, sockets, nft), not JS loops.
// --optimize-for-size       V8 favours memory over speed in its heap sizing. What it buys here: pages the GC
//                           frees go to V8's page pool (v8/src/heap/page-pool.cc) and stay resident until a
//                           memory-reducing GC releases them, and the memory reducer (v8/src/heap/memory-reducer.cc)
//                           only starts one when the allocation rate is low or V8 optimizes for memory — an
//                           agent that allocates a little every second never looks idle to it
//                           (--trace-memory-reducer: "high alloc, foreground", forever). After a burst of
//                           reports the pooled pages stayed as anonymous RSS (10,000 devices seen: 142 MiB,
//                           heap committed 33). With the flag: 84 MiB there, −3 MiB idle, −7 MiB with 1,000
//                           devices, CPU within the noise (bench/footprint.bench.ts).
export const SEA_EXEC_ARGV: readonly string[] = ['--max-semi-space-size=1', '--no-turbofan', '--no-maglev', '--optimize-for-size'];
