#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --no-memory-reducer --no-allocation-site-pretenuring
// MALLOC_ARENA_MAX=2: glibc gives each thread that mallocs an arena of its own (up
// to 8 per core), each keeping what it freed; under 12,000 checks a second the
// daemon's threads (main, checker, V8's and libuv's workers) held 24-36 MB in
// them, 6 MB with two (bench:checks). It has to be in the environment before node
// starts: V8's threads have their arenas before any of vipd's code runs.
// --no-memory-reducer: V8's memory reducer runs full mark-compact collections
// when a process looks idle — which is what a VRRP master between two adverts
// looks like — and each one costs milliseconds of advert timing. vipd's heap is
// a few MB; there is nothing worth reducing.
// --no-allocation-site-pretenuring: V8 learns at start-up, when 12,000 checks are
// in flight at once, that the objects of a check run survive, and from then on
// allocates them straight in the old generation — where, dead a millisecond
// later, they piled up to the next full collection: the checker thread's old
// generation grew 0.85 MB/s to 80 MB. Without it, 21 MB flat (bench:checks).
import '../dist/cli/main.js';
