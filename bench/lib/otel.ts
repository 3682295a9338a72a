/** OpenTelemetry for the benchmark's "with OpenTelemetry" sides: the SDK registered for the length of a figure, recording every span into memory (emptied as it goes), then unregistered. */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { FigureRow } from './figure.js';
import { sidesRow, type PairedSamples } from './paired.js';

/** A registered SDK that samples and records everything (the most a deployment pays), and how many spans it ended. */
export interface RecordingSdk {
  /** Spans ended so far (the exporter is emptied on every call, so memory stays flat). */
  spans(): number;
  stop(): Promise<void>;
}

/** Registers the OpenTelemetry SDK globally (tracer provider, AsyncLocalStorage context manager). */
export function startRecordingSdk(): RecordingSdk {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  let ended = 0;
  return {
    spans() {
      ended += exporter.getFinishedSpans().length;
      exporter.reset();
      return ended;
    },
    async stop() {
      await provider.shutdown();
      trace.disable();
      context.disable();
    },
  };
}

/** The row of a figure's OpenTelemetry side (`otel`) against its side without (`ours`): reported, no target. */
export function withOpenTelemetryRow(
  figure: string,
  unit: string,
  samples: PairedSamples,
  details: Record<string, unknown>,
): FigureRow {
  return sidesRow(
    figure,
    unit,
    samples,
    { ours: 'otel', baseline: 'ours' },
    {
      label: 'with OpenTelemetry',
      ratioOf: 'with / without OpenTelemetry',
      note: 'the same runtime with the OpenTelemetry SDK registered and sampling every span (in-memory exporter)',
      details,
    },
  );
}
