import test from 'ava';
import {canonicalJson} from '../source/audit/canonical-json.js';
import {seededRandom} from './helpers/seeded-random.js';

const serialized: Array<{name: string; value: unknown; expected: string}> = [
	{name: 'ASCII keys sort upper case before lower case', value: {b: 1, a: 2, B: 3, A: 4}, expected: '{"A":4,"B":3,"a":2,"b":1}'},
	{name: '"B" < "a" < "é" < "\\u{1F600}" < "\\uFF61" (an astral key sorts by its high surrogate 0xD83D, before 0xFF61)', value: {'\uFF61': 5, '\u{1F600}': 4, é: 3, a: 2, B: 1}, expected: '{"B":1,"a":2,"é":3,"😀":4,"｡":5}'},
	// RFC 8785 §3.2.3, the key sorting example.
	{
		name: 'the RFC 8785 sorting example',
		value: {
			'\u20AC': 'Euro Sign',
			'\r': 'Carriage Return',
			'\uFB33': 'Hebrew Letter Dalet With Dagesh',
			1: 'One',
			'\uD83D\uDE00': 'Emoji: Grinning Face',
			'\u0080': 'Control',
			'\u00F6': 'Latin Small Letter O With Diaeresis',
		},
		expected: '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00F6":"Latin Small Letter O With Diaeresis","\u20AC":"Euro Sign","\uD83D\uDE00":"Emoji: Grinning Face","\uFB33":"Hebrew Letter Dalet With Dagesh"}',
	},
	{name: 'integer-like keys sort as strings, not in the engine\'s numeric order', value: {10: 'a', 9: 'b', 1: 'c', '-1': 'd'}, expected: '{"-1":"d","1":"c","10":"a","9":"b"}'},
	{name: 'a key that is a prefix of another sorts first', value: {ab: 1, a: 2, '': 3}, expected: '{"":3,"a":2,"ab":1}'},
	{name: 'nested objects are sorted at every level', value: {z: {y: {b: 1, a: 2}, x: [{d: 1, c: 2}]}, a: null}, expected: '{"a":null,"z":{"x":[{"c":2,"d":1}],"y":{"a":2,"b":1}}}'},
	{name: 'arrays keep their order', value: [3, 1, 2, 'b', 'a'], expected: '[3,1,2,"b","a"]'},
	{name: 'empty object and array', value: {a: {}, b: []}, expected: '{"a":{},"b":[]}'},
	{name: 'literals', value: [true, false, null], expected: '[true,false,null]'},
	{name: 'no whitespace anywhere', value: {a: [1, {b: 2}]}, expected: '{"a":[1,{"b":2}]}'},
	{name: 'undefined properties are dropped', value: {a: undefined, b: 1, c: {d: undefined}}, expected: '{"b":1,"c":{}}'},
	{name: 'undefined in an array becomes null, as JSON.stringify does', value: [1, undefined, 2], expected: '[1,null,2]'},
	// RFC 8785 §3.2.2.3 and Appendix B: numbers as ECMAScript serializes them.
	{name: 'integers', value: [0, 1, -1, 42, 9_007_199_254_740_991, -9_007_199_254_740_991], expected: '[0,1,-1,42,9007199254740991,-9007199254740991]'},
	{name: '-0 is written as 0', value: -0, expected: '0'},
	{name: '1e21 switches to exponent form, 1e20 does not', value: [1e21, 1e20], expected: '[1e+21,100000000000000000000]'},
	{name: '0.1 and other decimal fractions use the shortest round-tripping form', value: [0.1, 4.5, 0.002, 333_333_333.333_333_3], expected: '[0.1,4.5,0.002,333333333.3333333]'},
	{name: 'small numbers switch to exponent form below 1e-6', value: [0.000_001, 1e-7, 1e-27], expected: '[0.000001,1e-7,1e-27]'},
	{name: 'the extremes of a double', value: [Number.MAX_VALUE, Number.MIN_VALUE, -Number.MAX_VALUE], expected: '[1.7976931348623157e+308,5e-324,-1.7976931348623157e+308]'},
	{name: 'quotes, backslash and the short control escapes', value: '"\\\b\f\n\r\t', expected: String.raw`"\"\\\b\f\n\r\t"`},
	{name: 'other control characters as lowercase \\u00xx', value: '\u0000\u0001\u001F', expected: String.raw`"\u0000\u0001\u001f"`},
	{name: 'slash and DEL are not escaped', value: '/\u007F', expected: '"/\u007F"'},
	{name: 'non-ASCII text is written as itself, not escaped', value: '\u00E9\u20AC\u{1F600}\uFB33', expected: '"\u00E9\u20AC\u{1F600}\uFB33"'},
	{name: 'escapes inside keys too', value: {'a"b': 1, 'c\nd': 2}, expected: String.raw`{"a\"b":1,"c\nd":2}`},
];

for (const {name, value, expected} of serialized) {
	test(`canonicalJson: ${name}`, t => {
		t.is(canonicalJson(value), expected);
	});
}

const refused: Array<{name: string; value: unknown; message: RegExp}> = [
	{name: 'NaN', value: Number.NaN, message: /NaN or Infinity/},
	{name: 'Infinity', value: Number.POSITIVE_INFINITY, message: /NaN or Infinity/},
	{name: '-Infinity', value: Number.NEGATIVE_INFINITY, message: /NaN or Infinity/},
	{name: 'NaN nested in an object', value: {a: {b: Number.NaN}}, message: /NaN or Infinity/},
	{name: 'Infinity nested in an array', value: [1, Number.POSITIVE_INFINITY], message: /NaN or Infinity/},
	{name: 'a function', value: () => 1, message: /function/},
	{name: 'a function as a property (JSON.stringify would drop it silently)', value: {a: () => 1}, message: /function/},
	{name: 'a bigint', value: 1n, message: /bigint/},
	{name: 'a bigint as a property', value: {a: 1n}, message: /bigint/},
	{name: 'a symbol', value: Symbol('s'), message: /symbol/},
	{name: 'undefined at the top', value: undefined, message: /undefined/},
];

for (const {name, value, message} of refused) {
	test(`canonicalJson refuses ${name}`, t => {
		t.throws(() => canonicalJson(value), {instanceOf: TypeError, message});
	});
}

// Known bug, reported: objects that are not plain (a Date, a Map) are walked
// with Object.entries and come out as {}, so the hash covers nothing of
// them, while the log stores JSON.stringify's form. Expected: the toJSON
// form (as JSON.stringify) or a TypeError. Remove .failing once fixed.
test('canonicalJson refuses a Date or a Map instead of turning it into an empty object', t => {
	t.throws(() => canonicalJson({at: new Date(0)}), {instanceOf: TypeError, message: /Date.*plain data/});
	t.throws(() => canonicalJson(new Map([['a', 1]])), {instanceOf: TypeError, message: /Map.*plain data/});
	t.is(canonicalJson(Object.assign(Object.create(null) as Record<string, unknown>, {b: 1, a: 2})), '{"a":2,"b":1}');
});

const keyAlphabet = ['a', 'b', 'B', 'Z', '_', '0', '9', 'é', 'ö', '€', '\u{1F600}', '\uFF61', '\u0080', ' ', '"', '\\', '\n'];

function randomKey(random: () => number): string {
	const length = 1 + Math.floor(random() * 4);
	let key = '';
	for (let index = 0; index < length; index++) {
		key += keyAlphabet[Math.floor(random() * keyAlphabet.length)]!;
	}

	return key;
}

function randomValue(random: () => number, depth: number): unknown {
	const pick = Math.floor(random() * (depth > 3 ? 5 : 7));
	switch (pick) {
		case 0: {
			return null;
		}

		case 1: {
			return random() < 0.5;
		}

		case 2: {
			const numbers = [0, -0, 1, -7, 0.1, 1e21, 1e-7, random() * 1e6, Math.floor(random() * 1e12)];
			return numbers[Math.floor(random() * numbers.length)];
		}

		case 3:
		case 4: {
			return randomKey(random);
		}

		case 5: {
			return Array.from({length: Math.floor(random() * 4)}, () => randomValue(random, depth + 1));
		}

		default: {
			const object: Record<string, unknown> = {};
			const size = Math.floor(random() * 6);
			for (let index = 0; index < size; index++) {
				object[randomKey(random)] = randomValue(random, depth + 1);
			}

			return object;
		}
	}
}

/** The same value, its object keys inserted in a shuffled order at every level. */
function reinsert(value: unknown, random: () => number): unknown {
	if (Array.isArray(value)) {
		return value.map(item => reinsert(item, random));
	}

	if (value !== null && typeof value === 'object') {
		const keys = Object.keys(value);
		for (let index = keys.length - 1; index > 0; index--) {
			const other = Math.floor(random() * (index + 1));
			[keys[index], keys[other]] = [keys[other]!, keys[index]!];
		}

		const copy: Record<string, unknown> = {};
		for (const key of keys) {
			copy[key] = reinsert((value as Record<string, unknown>)[key], random);
		}

		return copy;
	}

	return value;
}

test('the same value with its keys inserted in any order gives identical bytes (500 random values)', t => {
	const mismatches: string[] = [];
	for (let seed = 1; seed <= 500; seed++) {
		const random = seededRandom(seed);
		const value = {root: randomValue(random, 0), other: randomValue(random, 0)};
		const expected = canonicalJson(value);
		for (let shuffle = 0; shuffle < 3; shuffle++) {
			const actual = canonicalJson(reinsert(value, random));
			if (actual !== expected) {
				mismatches.push(`seed ${seed}: ${actual} !== ${expected}`);
			}
		}
	}

	t.deepEqual(mismatches, []);
});

test('canonical output parses as JSON, is its own canonical form, and matches the canonical form of JSON.stringify\'s round trip (500 random values)', t => {
	for (let seed = 1; seed <= 500; seed++) {
		const random = seededRandom(seed);
		const value = randomValue(random, 0);
		const text = canonicalJson(value);
		t.is(canonicalJson(JSON.parse(text)), text, `seed ${seed}`);
		// What the log stores (JSON.stringify) must hash the same once read back.
		t.is(canonicalJson(JSON.parse(JSON.stringify(value))), text, `seed ${seed}`);
	}
});

test('object keys come out in the order of a plain UTF-16 code unit sort (500 random objects)', t => {
	for (let seed = 1; seed <= 500; seed++) {
		const random = seededRandom(seed);
		const object: Record<string, number> = {};
		for (let index = 0; index < 8; index++) {
			object[randomKey(random)] = index;
		}

		// Array.prototype.sort without a comparator compares UTF-16 code units.
		const keys = Object.keys(object).sort();
		t.is(canonicalJson(object), `{${keys.map(key => `${JSON.stringify(key)}:${object[key]!}`).join(',')}}`, `seed ${seed}`);
	}
});
