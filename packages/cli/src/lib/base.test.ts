// jsonError: what --json prints for a failed command, and the exit code it keeps.
import { describe, expect, it } from 'vitest';
import { BpfVerifierError, TwError } from '@tw/core';
import { errorDetails, jsonError } from './base.js';

describe('jsonError', () => {
  it("a tw error: its code, its message, the exit code of tw's table", () => {
    expect(jsonError(new TwError('NOT_TRACE_DAT', 'x.dat: not a trace.dat file'), false)).toEqual({ code: 'NOT_TRACE_DAT', message: 'x.dat: not a trace.dat file', exit: 3 });
    expect(jsonError(new TwError('NO_PERMISSION', 'needs root'), true)).toEqual({ code: 'NO_PERMISSION', message: 'needs root', exit: 7 });
  });

  it("an error while parsing the command line: BAD_ARGUMENT on one line, oclif's exit code", () => {
    const e = Object.assign(new Error('Parsing --latency \n\tExpected an integer greater than or equal to 1 but received: 0\nSee more help with --help'), { oclif: { exit: 2 } });
    expect(jsonError(e, true)).toEqual({ code: 'BAD_ARGUMENT', message: '--latency: Expected an integer greater than or equal to 1 but received: 0', exit: 2 });
    expect(jsonError(new Error('Missing 1 required arg:\nname  the watch'), true)).toEqual({ code: 'BAD_ARGUMENT', message: 'Missing 1 required arg: name the watch', exit: 2 });
  });

  it('anything else: INTERNAL, exit 1 unless the error names one', () => {
    expect(jsonError(new TypeError("Cannot read properties of undefined (reading 'x')"), false)).toEqual({ code: 'INTERNAL', message: "internal error (a bug in tw: please report it): Cannot read properties of undefined (reading 'x')", exit: 1 });
    expect(jsonError(Object.assign(new Error('gone'), { exitCode: 9 }), false)).toMatchObject({ code: 'INTERNAL', exit: 9 });
  });
});

describe('errorDetails', () => {
  it("a verifier rejection adds the probe, the program, its section and the verifier's last lines", () => {
    const e = new BpfVerifierError('unlinkat', 'tw_unlinkat', 'tracepoint/syscalls/sys_enter_unlinkat', ['invalid access to map value'], '/o.bpf.o');
    expect(jsonError(e, false)).toMatchObject({ code: 'BPF_VERIFIER', exit: 9 });
    expect(errorDetails(e)).toEqual({ probe: 'unlinkat', program: 'tw_unlinkat', section: 'tracepoint/syscalls/sys_enter_unlinkat', verifierLog: ['invalid access to map value'] });
  });

  it('adds nothing for other errors', () => {
    expect(errorDetails(new TwError('BPF_LOAD', 'x'))).toEqual({});
    expect(errorDetails(new Error('x'))).toEqual({});
  });
});
