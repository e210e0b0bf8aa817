// What kprobe-gen generates for the plugins' probe specs, snapshotted whole (the suite is
// kprobe-gen's; its own test specs are snapshotted in packages/kprobe-gen).
import { fileURLToPath } from 'node:url';
import { renderSuite } from '@tw/kprobe-gen/testing';
import { shippedSpecs } from '../support/shipped-specs.js';

renderSuite(shippedSpecs, fileURLToPath(new URL('./__snapshots__/', import.meta.url)));
