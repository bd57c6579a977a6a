/**
 * `npm run demo` (small size) against real Redis: the naive store must show
 * both bugs and session-cas neither.
 */
import { describe, expect, it } from 'vitest';
import { runNpm } from './run-npm.js';

interface Tally {
  resurrected: number;
  terminated: number;
  updatesLost: number;
  updatesAcknowledged: number;
  conflictsRetried: number;
  gaveUp: number;
}

describe('npm run demo', () => {
  it('shows resurrections and lost updates on the naive store and none on session-cas', async () => {
    const sessions = 60;
    const writerSessions = 6;
    const removals = 8;
    const run = await runNpm(
      'demo',
      [
        '--sessions',
        String(sessions),
        '--writer-sessions',
        String(writerSessions),
        '--removals',
        String(removals),
        '--json',
      ],
      90_000,
    );
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toContain('[demo] Redis from REDIS_URL: ');
    const line = run.stdout.split('\n').find((l) => l.startsWith('DEMO_RESULT '));
    expect(line, run.stdout).toBeDefined();
    const { naive, sessionCas } = JSON.parse(line!.slice('DEMO_RESULT '.length)) as { naive: Tally; sessionCas: Tally };

    expect(naive.terminated).toBe(sessions);
    expect(naive.resurrected).toBeGreaterThan(0);
    expect(naive.updatesLost).toBeGreaterThan(0);
    expect(naive.updatesAcknowledged).toBe(2 * removals * writerSessions);

    expect(sessionCas.terminated).toBe(sessions);
    expect(sessionCas.resurrected).toBe(0);
    expect(sessionCas.updatesLost).toBe(0);
    // Every removal is either acknowledged (and then in the final state) or reported as given up.
    expect(sessionCas.updatesAcknowledged + sessionCas.gaveUp).toBe(2 * removals * writerSessions);
    expect(sessionCas.conflictsRetried).toBeGreaterThan(0);

    for (const label of ['sessions resurrected', 'updates lost', 'conflicts retried'])
      expect(run.stdout).toContain(label);
  }, 120_000);
});
