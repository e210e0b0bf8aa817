import { Flags } from '@oclif/core';

/** --input/-i: a trace.dat recording (trace-cmd v6 or v7) to read instead of the live kernel. */
export const inputFlag = Flags.string({
  char: 'i',
  summary: 'Read this trace.dat recording (trace-cmd v6/v7) instead of tracing the live kernel.',
  helpValue: 'FILE',
  // an empty name is a mistake (an unset shell variable), not a request to trace live
  parse: async (v) => {
    if (v === '') throw new Error('an empty name; name a trace.dat file (leave --input out to trace the live kernel)');
    return v;
  },
});

export const bufferFlag = Flags.string({
  char: 'B',
  summary: 'With --input: only use events from this buffer of the recording (tracefs instance name; "" = top-level). Repeatable.',
  multiple: true,
  helpValue: 'NAME',
});
