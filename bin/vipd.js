#!/usr/bin/env -S node --no-memory-reducer --max-semi-space-size=2
// --no-memory-reducer: V8's memory reducer runs full mark-compact collections
// when a process looks idle — which is what a VRRP master between two adverts
// looks like — and each one costs milliseconds of advert timing. vipd's heap is
// a few MB; there is nothing worth reducing.
// --max-semi-space-size=2 (MB; V8's default grows it to 16): the young generation
// of each thread (main, checker) stays at 4 MB instead of 32 MB under load —
// measured in bench:checks (README: Footprint). A scavenge's pause is set by what
// survives, not by the space's size; a smaller one scavenges more often.
import '../dist/cli/main.js';
