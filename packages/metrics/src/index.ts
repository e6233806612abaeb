export { answerClientError, metricsAuthorized } from './http.ts';
export { type Parsed, parseExposition, type Sample } from './parse.ts';
export {
  CONTENT_TYPE,
  type Counter,
  type CounterChild,
  createRegistry,
  formatValue,
  type Gauge,
  type GaugeChild,
  type Histogram,
  type HistogramChild,
  type Registry,
} from './registry.ts';
