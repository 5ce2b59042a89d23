#!/usr/bin/env -S MALLOC_ARENA_MAX=1 MALLOC_MMAP_THRESHOLD_=131072 node --no-memory-reducer --no-allocation-site-pretenuring --max-semi-space-size=4 --heap-growing-percent=25 --optimize-for-size
// MALLOC_ARENA_MAX=1: glibc gives each thread that mallocs an arena of its own (up
// to 8 per core), each keeping what it freed; under 12,000 checks a second the
// daemon's threads (main, checker, V8's and libuv's workers) held 24-36 MB in
// them, 6 MB with two arenas (bench:checks). One arena for all: RSS 119-129 ->
// 118-122 MB (4 runs each, alternating), advert jitter p99 3.0-6.8 ms, CPU +0-5
// points of one core. It has to be in the environment before node starts: V8's
// threads have their arenas before any of vipd's code runs.
// MALLOC_MMAP_THRESHOLD_=131072: a block of 128 KiB or more gets a mapping of its
// own, returned when freed. glibc otherwise raises that threshold to the size of
// every such block freed (start-up's big transients), and the later ones come
// from the heap, where they stay, fragmented: under the check load the heap was
// 30.5 MB with 16-17 MB of it free; with the threshold fixed, 20.6 MB (10 free).
// bench:checks natively: RSS 135.5, 135.6 -> 131.0-133.8 MB (same hour, alternating).
// --no-memory-reducer: V8's memory reducer runs full mark-compact collections
// when a process looks idle — which is what a VRRP master between two adverts
// looks like — and each one costs milliseconds of advert timing. vipd's heap is
// a few MB; there is nothing worth reducing.
// --no-allocation-site-pretenuring: V8 learns at start-up, when 12,000 checks are
// in flight at once, that the objects of a check run survive, and from then on
// allocates them straight in the old generation — where, dead a millisecond
// later, they piled up to the next full collection: the checker thread's old
// generation grew 0.85 MB/s to 80 MB. Without it, 21 MB flat (bench:checks).
// --max-semi-space-size=4 --heap-growing-percent=50 (now 25, below): each isolate's young
// generation at most 2 x 4 MB (V8 grew both to 2 x 16 MB under the check load),
// and a full collection once the old generation is 1.5 times what the last one
// left (V8 let it reach 2-4 times: the main thread's 25 MB live sat in 48-65 MB).
// bench:checks natively, 12,000 checks/s with scrapes: RSS 205-224 -> 151-165 MB,
// advert jitter p99 3.8-8.9 ms against 3.6-7.6 ms without, CPU the same.
// --heap-growing-percent=25 (was 50): once checks run without a promise per run and
// a scrape makes no promise per line, each thread promotes ~0.15 MB/s, so a full
// collection at 1.25 times what the last one left comes every half minute or so.
// bench:checks natively, same hour: RSS 124.1, 127.2, 129.9 MB (and 127.0 at 15)
// against 128.6-132.7 at 50; advert jitter p99 4.9-5.4 against 4.6-5.8 ms.
// --optimize-for-size: V8's own trade of speed for memory (as on a phone): full
// collections compact harder and shrink the young generation, less heap headroom,
// old bytecode flushed. bench:checks natively: RSS 144-148 -> 133-141 MB (same
// hour, 4 runs each), CPU 56-60 % either way, advert jitter p99 2.4-4.6 ms.
import '../dist/cli/main.js';
