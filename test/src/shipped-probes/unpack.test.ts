// The generated unpackers of the plugins' probe specs: type-checked, compiled, and unpacking
// synthetic records exactly as laid out (the suite is kprobe-gen's; its own test specs:
// packages/kprobe-gen).
import { unpackSuite } from '@tw/kprobe-gen/testing';
import { shippedSpecs } from '../support/shipped-specs.js';

unpackSuite(shippedSpecs);
