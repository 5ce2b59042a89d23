#!/usr/bin/env -S node --no-memory-reducer
// --no-memory-reducer: V8's memory reducer runs full mark-compact collections
// when a process looks idle — which is what a VRRP master between two adverts
// looks like — and each one costs milliseconds of advert timing. vipd's heap is
// a few MB; there is nothing worth reducing.
import '../dist/cli/main.js';
