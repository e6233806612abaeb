import { describe } from 'vitest';
import { busSuite } from './bus.suite.ts';
import { IMPLS } from './harness.ts';
import { capSuite } from './limiter-cap.suite.ts';
import { rateSuite } from './limiter-rate.suite.ts';
import { rebuildSuite } from './limiter-rebuild.suite.ts';

// The same behavioural suites against both implementations: embedded mode must behave like Redis.
for (const impl of IMPLS) {
  describe(`${impl.name}: spend ledger`, () => capSuite(impl));
  describe(`${impl.name}: rate limiter`, () => rateSuite(impl));
  describe(`${impl.name}: counters rebuilt after a loss`, () => rebuildSuite(impl));
  describe(`${impl.name}: policy bus and usage stream`, () => busSuite(impl));
}
