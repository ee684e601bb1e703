/**
 * When something shown is read again: as soon as it is said to have changed
 * (a burst of changes is one read), never sooner than `spacing` after the
 * previous read, and every `period` in any case. A file written thousands of
 * times a second is read at most once per `spacing`; one that is not written
 * to costs nothing until the `period` comes round.
 */
export type Refresher = {
	/** Reads now (the first read); later reads follow the schedule. */
	start(): void;
	/** Something changed: read again as soon as the spacing allows. */
	changed(): void;
	/** No more reads; one in flight finishes. */
	close(): void;
};

export type RefresherOptions = {
	/** Between reads when nothing is said to change; Infinity for never. */
	period: number;
	/** At least this long between the start of one read and the next. */
	spacing?: number;
	/** After a change, wait this long for the rest of its burst. */
	settle?: number;
	now?: () => number;
};

/** `read` shows its own errors (what throws anyway is ignored). */
export function createRefresher(read: () => Promise<void>, {period, spacing = 0, settle = 0, now = () => performance.now()}: RefresherOptions): Refresher {
	let timer: NodeJS.Timeout | undefined;
	/** When the pending timer fires; Infinity when none is pending. */
	let dueAt = Number.POSITIVE_INFINITY;
	let running = false;
	let again = false;
	let closed = false;
	let startedAt = Number.NEGATIVE_INFINITY;

	/** Moves the next read to `at` if that is sooner than the one pending (a change never postpones a read). */
	const schedule = (at: number) => {
		if (closed || at >= dueAt || !Number.isFinite(at)) {
			return;
		}

		clearTimeout(timer);
		dueAt = at;
		timer = setTimeout(() => {
			void run();
		}, Math.max(0, at - now()));
	};

	const soonest = () => Math.max(now() + settle, startedAt + spacing);

	async function run() {
		clearTimeout(timer);
		dueAt = Number.POSITIVE_INFINITY;
		if (closed) {
			return;
		}

		running = true;
		startedAt = now();
		try {
			await read();
		} catch {
			// `read` shows its own errors; a stray one must not stop the schedule.
		} finally {
			running = false;
		}

		schedule(now() + period);
		if (again) {
			// Changes during the read may have come after the part of the file it read.
			again = false;
			schedule(soonest());
		}
	}

	return {
		start() {
			void run();
		},
		changed() {
			if (running) {
				again = true;
			} else {
				schedule(soonest());
			}
		},
		close() {
			closed = true;
			clearTimeout(timer);
		},
	};
}
