// The generated unpackers of kprobe-gen's own test specs (the plugins' shipped ones:
// test/src/shipped-probes), checked by the shared suite.
import { testSpecs } from './test-specs.js';
import { unpackSuite } from './testing/unpack-suite.js';

unpackSuite(testSpecs);
