import { Flags } from '@oclif/core';

/** --input/-i: a trace.dat recording (trace-cmd v6 or v7) to read instead of the live kernel. */
export const inputFlag = Flags.string({
  char: 'i',
  summary: 'Read this trace.dat recording (trace-cmd v6/v7) instead of tracing the live kernel.',
  helpValue: 'FILE',
});

export const bufferFlag = Flags.string({
  char: 'B',
  summary: 'Only use events from this buffer (tracefs instance name; "" = top-level). Repeatable.',
  multiple: true,
  helpValue: 'NAME',
});
