// quoted()/printable(): how tw shows strings it did not write (from files, specs, the command line).
import { describe, expect, it } from 'vitest';
import { printable, quoted } from './quote.js';

describe('quoted', () => {
  it('quotes plain text as it is', () => {
    expect(quoted('sched_switch')).toBe("'sched_switch'");
  });

  it('escapes every byte that acts on a terminal: ESC, BEL, CR, C1, DEL, bidi overrides', () => {
    expect(quoted('a\u001b]0;title\u0007\u001b[2Jb')).toBe("'a\\e]0;title\\x07\\e[2Jb'");
    expect(quoted('x\r\ny\u009b\u007f\u202e')).toBe("'x\\r\\ny\\x9b\\x7f\\u202e'");
    expect(printable('tab\tnl\n')).toBe('tab\\tnl\\n');
  });

  it("escapes its own quote and backslash, so the quoted text cannot end early", () => {
    expect(quoted("it's \\ here")).toBe("'it\\'s \\\\ here'");
  });

  it('cuts long text and says how long it was', () => {
    const q = quoted('x'.repeat(1000));
    expect(q).toBe(`'${'x'.repeat(160)}'… (1000 characters)`);
  });

  it('shows what is not a string through String()', () => {
    expect(quoted(42)).toBe("'42'");
  });
});
