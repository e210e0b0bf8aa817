// The Alertmanager keys of tw serve's config: URLs checked as the sink checks them (so --check
// finds what serve would refuse), with the file's line and key; a watch's severity.
import { describe, expect, it } from 'vitest';
import { parseServeConfig } from './config.js';

const watches = 'watches:\n  - watch: who-killed\n    args: ["1"]\n';

function problem(text: string): string {
  try {
    parseServeConfig(text, 'serve.yaml');
  } catch (e) {
    return (e as Error).message;
  }
  return 'no problem';
}

describe('tw serve config: alertmanager', () => {
  it('takes base URLs, also behind a path prefix or with credentials', () => {
    const c = parseServeConfig(`alertmanager:\n  - http://127.0.0.1:9093/\n  - https://tw:pw@am.example/alertmanager\n${watches}`, 'serve.yaml');
    expect(c.alertmanager).toEqual(['http://127.0.0.1:9093', 'https://tw:pw@am.example/alertmanager']);
  });

  it('names the line and the entry of a URL the sink would refuse', () => {
    expect(problem(`alertmanager:\n  - http://a:9093\n  - ftp://a:9093\n${watches}`)).toBe("serve.yaml:3: alertmanager[1]: 'ftp://a:9093': only http and https are supported");
    expect(problem(`alertmanager:\n  - http://a:9093/?x=1\n${watches}`)).toMatch(/^serve\.yaml:2: alertmanager\[0\]: .*without a query/);
    expect(problem(`alertmanager:\n  - am.example 9093\n${watches}`)).toMatch(/^serve\.yaml:2: alertmanager\[0\]: .*not a URL/);
    expect(problem(`alertmanager:\n  - http://a:9093\n  - http://a:9093/api/v2/alerts\n${watches}`)).toBe("serve.yaml:3: alertmanager[1]: 'http://a:9093/api/v2/alerts' is the same Alertmanager as alertmanager[0]");
  });

  it('a watch may set the severity of its alerts, a word', () => {
    const c = parseServeConfig(`${watches}    severity: critical\n`, 'serve.yaml');
    expect(c.watches[0]!.severity).toBe('critical');
    expect(parseServeConfig(watches, 'serve.yaml').watches[0]!.severity).toBeUndefined();
    expect(problem(`${watches}    severity: "very bad"\n`)).toMatch(/^serve\.yaml:4: watches\[0\]\.severity: 'very bad' is not a severity/);
  });

  it('pid is a label tw sets itself', () => {
    expect(problem(`labels: { pid: "1" }\n${watches}`)).toMatch(/^serve\.yaml:1: labels\.pid: tw sets the label 'pid' itself/);
  });
});
