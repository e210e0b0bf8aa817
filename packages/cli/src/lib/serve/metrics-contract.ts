/**
 * TEMPORARY: the shape of @tw/core's watch metrics API (packages/core/src/watch/metrics.ts),
 * until it is merged; then these come from @tw/core and this file goes.
 */
export interface MetricDeclaration { watchId: string; watch: string; kind: 'counter' | 'gauge' | 'histogram'; name: string; fullName: string; help: string; labels: readonly string[]; buckets?: readonly number[] }
export interface MetricSink { add(labelValues: readonly string[], by: number): void; set(labelValues: readonly string[], value: number): void; observe(labelValues: readonly string[], value: number): void }
export interface MetricsBackend { declare(d: MetricDeclaration): MetricSink; overflow?(d: MetricDeclaration): void }
