/**
 * How long a test waits for a condition before it fails. Generous on
 * purpose: CI runs on two shared cores at load averages of 20–40, where a
 * step that takes 50 ms on a laptop can take many seconds. A wait ends as
 * soon as its condition holds, so a long deadline costs nothing when things
 * work; it only decides how long a real failure takes to say so. Tests assert
 * what happened, never how fast: timing belongs in test/benchmarks.
 */
export const waitDeadlineMilliseconds = 120_000;

/**
 * A client's own timeout (curl --max-time, a request's timeout) for a request
 * that is expected to be answered. It only stops a hung request from
 * hanging the test, so it is as generous as a wait.
 */
export const clientTimeoutSeconds = 60;

/**
 * The bound on a request that must fail (a probe of the sealed network): it
 * only stops a silently dropped connection from hanging the test, and is
 * long enough that a way out that does exist would answer within it even on
 * a loaded machine, so a timeout is not mistaken for a refusal.
 */
export const failureTimeoutSeconds = 20;

/** Polls `condition` until it holds; fails, naming `what`, after the deadline. */
export async function until(condition: () => boolean | Promise<boolean>, what = 'the condition'): Promise<void> {
	const deadline = Date.now() + waitDeadlineMilliseconds;
	for (;;) {
		if (await condition()) {
			return;
		}

		if (Date.now() > deadline) {
			throw new Error(`${what} did not hold in ${waitDeadlineMilliseconds / 1000} s`);
		}

		await new Promise(resolve => {
			setTimeout(resolve, 20);
		});
	}
}
