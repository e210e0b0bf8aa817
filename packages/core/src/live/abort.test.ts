import { describe, expect, it } from 'vitest';
import { abortFailure } from './trace-live.js';

describe('abortFailure: which aborts fail a live session', () => {
  it('abort() alone (the standard AbortError) and a signal name end it gracefully; an Error given to abort() fails it', () => {
    const plain = new AbortController();
    expect(abortFailure(plain.signal)).toBeUndefined();
    plain.abort();
    expect(plain.signal.reason).toBeInstanceOf(Error); // why the name, not instanceof, decides
    expect(abortFailure(plain.signal)).toBeUndefined();
    const named = new AbortController();
    named.abort('SIGINT');
    expect(abortFailure(named.signal)).toBeUndefined();
    const failed = new AbortController();
    const why = new Error('a watch hook rejected');
    failed.abort(why);
    expect(abortFailure(failed.signal)).toBe(why);
    expect(abortFailure(undefined)).toBeUndefined();
  });
});
