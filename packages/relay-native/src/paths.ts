/** The tracefs files of an instance that the readers use. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** …/per_cpu/cpuN/trace_pipe_raw of an instance. */
export function rawPipePath(instance: string, cpu: number): string {
  return join(instance, 'per_cpu', `cpu${cpu}`, 'trace_pipe_raw');
}

/** The instance's sub-buffer size in bytes, or undefined on kernels without buffer_subbuf_size_kb. */
export function instanceSubbufSize(instance: string): number | undefined {
  const kb = readNumber(join(instance, 'buffer_subbuf_size_kb'));
  return kb !== undefined && kb > 0 ? kb * 1024 : undefined;
}

/** KiB of ring buffer per CPU (buffer_size_kb), or undefined if it cannot be read. */
export function instanceBufferKb(instance: string): number | undefined {
  return readNumber(join(instance, 'buffer_size_kb'));
}

/** The CPUs the instance has buffers for (per_cpu/cpuN), ascending. */
export function listCpus(instance: string): number[] {
  try {
    return readdirSync(join(instance, 'per_cpu'))
      .map((n) => /^cpu(\d+)$/.exec(n)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  } catch {
    return [];
  }
}

function readNumber(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  // "1410", or "7 (expanded: 1408)" before the buffer is first used
  const n = Number.parseInt(text.trim(), 10);
  return Number.isFinite(n) ? n : undefined;
}
