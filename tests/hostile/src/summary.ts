// The figures each test file adds to the battery's closing table: appended as JSON lines to one
// file that the global setup creates and the summary reporter reads at the end of the run.
import { appendFileSync } from 'node:fs';
import { inject } from 'vitest';

/** One file's contribution; every field is optional and summed (peaks and latencies are merged). */
export interface SummaryRecord {
  acknowledged?: number;
  delivered?: number;
  lost?: number;
  duplicated?: number;
  fuzzSessions?: number;
  crashes?: number;
  /** Peak resident set of a server process, in bytes (VmHWM). */
  peakRss?: number;
  /** A well-behaved client's session latencies in ms, with no abuse and under abuse. */
  idleLatencies?: number[];
  abuseLatencies?: number[];
  /** The highest of the per-case medians under abuse (each is held to the latency bound). */
  worstCaseMedian?: number;
  /** The floor of the latency bound: a case's median may reach idle + this many ms. */
  latencyNoiseMs?: number;
}

declare module 'vitest' {
  export interface ProvidedContext {
    summaryFile: string;
  }
}

/** Adds figures to the closing table. */
export function record(figures: SummaryRecord): void {
  appendFileSync(inject('summaryFile'), `${JSON.stringify(figures)}\n`);
}
