import {EventEmitter} from 'node:events';
import {PassThrough} from 'node:stream';
import test from 'ava';
import {createInterrupts} from '../source/terminal/interrupts.js';

function terminal() {
	const modes: boolean[] = [];
	const input = Object.assign(new PassThrough(), {
		isTTY: true,
		setRawMode(mode: boolean) {
			modes.push(mode);
		},
	});
	const signals = new EventEmitter();
	return {input, signals, modes, interrupts: createInterrupts(input, signals)};
}

/** Whether `promise` has settled once everything already queued has run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
	let done = false;
	void promise.then(() => {
		done = true;
	});
	await new Promise(resolve => {
		setImmediate(resolve);
	});
	return done;
}

test('nothing is installed until a command asks: SIGINT keeps its default and the terminal its mode', t => {
	const {signals, modes} = terminal();
	t.is(signals.listenerCount('SIGINT'), 0);
	t.deepEqual(modes, []);
});

test('two Ctrl+C in one read are two interrupts: the second is kept for the next wait', async t => {
	const {input, interrupts} = terminal();
	const first = interrupts.next();
	input.write(Buffer.from([0x03, 0x03]));
	await first;
	t.true(await settled(interrupts.next()), 'the second press is there at once');
	t.false(await settled(interrupts.next()), 'and there were only two');
	interrupts.close();
});

test('one Ctrl+C is one interrupt; other keys are none', async t => {
	const {input, interrupts} = terminal();
	const first = interrupts.next();
	input.write('abc\u0003def');
	await first;
	t.false(await settled(interrupts.next()));
	interrupts.close();
});

test('on a terminal Ctrl+C is read as a key (raw mode), and closing gives the mode back; SIGINT still counts', async t => {
	const {signals, modes, interrupts} = terminal();
	const first = interrupts.next();
	t.deepEqual(modes, [true]);
	signals.emit('SIGINT');
	await first;
	interrupts.close();
	t.deepEqual(modes, [true, false]);
	t.is(signals.listenerCount('SIGINT'), 0);
});
