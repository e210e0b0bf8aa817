/**
 * --json: each alert as one line {"alert": {...}} on stdout when it happens, written
 * synchronously (it is out of tw before the next event is handled); the result follows as the
 * last line, so a reader tells them apart by place and by the one member "alert".
 */
import type { Alert, AlertRecord } from '@tw/core';
import { writeAllSync } from '../write-sync.js';
import type { AlertSink } from './sink.js';

export class JsonLinesSink implements AlertSink {
  readonly name = '--json';
  private closed = false;

  constructor(private readonly fd = 1) {}

  alert(_a: Alert, _r: AlertRecord, json: string): void {
    if (this.closed) throw new Error('stdout is closed');
    try {
      writeAllSync(this.fd, Buffer.from(`{"alert":${json}}\n`));
    } catch (e) {
      // no one reads stdout any more: say it once (AlertSinks does), not per alert
      if ((e as NodeJS.ErrnoException).code === 'EPIPE') this.closed = true;
      throw e;
    }
  }
}
