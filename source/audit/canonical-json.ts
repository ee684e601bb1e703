/**
 * Canonical JSON in the style of RFC 8785 (JCS): object keys sorted by UTF-16
 * code units, no whitespace, strings and numbers as ECMAScript serializes
 * them (which is what JCS specifies). The same value gives the same bytes on
 * any machine, so a hash over it verifies anywhere.
 *
 * Audit verification runs this for every entry, so plain data whose keys
 * already come in canonical order goes to the engine's own JSON.stringify,
 * which then writes exactly these bytes; anything else is written here.
 */
export function canonicalJson(value: unknown): string {
	return inCanonicalOrder(value) ? JSON.stringify(value) : serialize(value);
}

/**
 * A deep copy of plain data equal to what a JSON round trip of it gives
 * (its keys in the same order, undefined properties dropped, undefined in
 * arrays as null, -0 as 0), without writing and parsing the text; undefined
 * for anything else (a Date, NaN, a function), which only the round trip
 * itself turns into JSON.
 */
export function plainJsonCopy<T>(value: T): T | undefined {
	if (typeof (Object.prototype as {toJSON?: unknown}).toJSON === 'function' || typeof (Array.prototype as {toJSON?: unknown}).toJSON === 'function') {
		return undefined;
	}

	const copied = plainCopy(value);
	return copied === notPlain ? undefined : copied as T;
}

const notPlain = Symbol('not plain data');

function plainCopy(value: unknown): unknown {
	switch (typeof value) {
		case 'string':
		case 'boolean': {
			return value;
		}

		case 'number': {
			return Number.isFinite(value) ? value + 0 : notPlain;
		}

		case 'object': {
			if (value === null) {
				return null;
			}

			if (Array.isArray(value)) {
				const copy: unknown[] = [];
				// A hole reads as undefined here too, and becomes null as in JSON.
				for (const item of value as unknown[]) {
					const copied = item === undefined ? null : plainCopy(item);
					if (copied === notPlain) {
						return notPlain;
					}

					copy.push(copied);
				}

				return copy;
			}

			const prototype = Object.getPrototypeOf(value) as unknown;
			if (prototype !== Object.prototype && prototype !== null) {
				return notPlain;
			}

			const record = value as Record<string, unknown>;
			const copy: Record<string, unknown> = {};
			for (const key of Object.keys(record)) {
				const item = record[key];
				if (item === undefined) {
					continue;
				}

				const copied = plainCopy(item);
				if (copied === notPlain) {
					return notPlain;
				}

				if (key === '__proto__') {
					// Defined, not assigned: an own `__proto__` key (JSON.parse makes one) stays a key.
					Object.defineProperty(copy, key, {value: copied, enumerable: true, writable: true, configurable: true});
				} else {
					copy[key] = copied;
				}
			}

			return copy;
		}

		default: {
			return notPlain;
		}
	}
}

/** Canonical JSON of data that may already be in canonical order, given JSON.stringify's text of it. */
export function canonicalJsonOf(value: unknown, stringified: string): string {
	return inCanonicalOrder(value) ? stringified : serialize(value);
}

/**
 * Whether JSON.stringify writes this value's canonical JSON: only plain data
 * (strings, finite numbers, booleans, null, plain objects and arrays, no
 * functions), every object's keys already in canonical order, and no toJSON
 * the engine would call.
 */
function inCanonicalOrder(value: unknown): boolean {
	if (typeof value === 'object' && value !== null
		&& (typeof (Object.prototype as {toJSON?: unknown}).toJSON === 'function' || typeof (Array.prototype as {toJSON?: unknown}).toJSON === 'function')) {
		return false;
	}

	return plainInOrder(value);
}

function plainInOrder(value: unknown): boolean {
	switch (typeof value) {
		case 'string':
		case 'boolean': {
			return true;
		}

		case 'number': {
			return Number.isFinite(value);
		}

		case 'object': {
			if (value === null) {
				return true;
			}

			if (Array.isArray(value)) {
				for (const item of value as unknown[]) {
					if (item !== undefined && !plainInOrder(item)) {
						return false;
					}
				}

				return true;
			}

			const prototype = Object.getPrototypeOf(value) as unknown;
			if (prototype !== Object.prototype && prototype !== null) {
				return false;
			}

			// Object.keys gives the order JSON.stringify writes in (integer-like
			// keys first, numerically), so that order is the one checked.
			const record = value as Record<string, unknown>;
			const keys = Object.keys(record);
			for (let index = 0; index < keys.length; index++) {
				const key = keys[index]!;
				if (index > 0 && !(keys[index - 1]! < key)) {
					return false;
				}

				const item = record[key];
				if (item !== undefined && !plainInOrder(item)) {
					return false;
				}
			}

			return true;
		}

		default: {
			return false;
		}
	}
}

/** Keys in UTF-16 code unit order, as JCS requires (and as `<` compares strings). */
function sortedKeys(keys: string[]): string[] {
	// Most objects are small: an insertion sort beats Array#sort's setup there.
	if (keys.length > 16) {
		return keys.sort();
	}

	for (let index = 1; index < keys.length; index++) {
		const key = keys[index]!;
		let at = index - 1;
		while (at >= 0 && keys[at]! > key) {
			keys[at + 1] = keys[at]!;
			at--;
		}

		keys[at + 1] = key;
	}

	return keys;
}

// The same few keys come back in every entry: each is quoted once.
const quotedKeys = new Map<string, string>();

function quotedKey(key: string): string {
	let quoted = quotedKeys.get(key);
	if (quoted === undefined) {
		quoted = JSON.stringify(key) + ':';
		if (quotedKeys.size < 4096) {
			quotedKeys.set(key, quoted);
		}
	}

	return quoted;
}

function serialize(value: unknown): string {
	switch (typeof value) {
		case 'string':
		case 'boolean': {
			return JSON.stringify(value);
		}

		case 'number': {
			if (!Number.isFinite(value)) {
				throw new TypeError('canonical JSON has no form for NaN or Infinity');
			}

			return JSON.stringify(value);
		}

		case 'object': {
			if (value === null) {
				return 'null';
			}

			if (Array.isArray(value)) {
				let text = '[';
				for (let index = 0; index < value.length; index++) {
					const item: unknown = value[index];
					text += (index === 0 ? '' : ',') + serialize(item === undefined ? null : item);
				}

				return text + ']';
			}

			// Only plain data: a Date or Map would serialize differently here
			// and in JSON.stringify, and the hash would not match what is stored.
			const prototype = Object.getPrototypeOf(value) as unknown;
			if (prototype !== Object.prototype && prototype !== null) {
				throw new TypeError(`canonical JSON has no form for ${(value as object).constructor?.name ?? 'this object'}; pass plain data`);
			}

			const record = value as Record<string, unknown>;
			let text = '{';
			let first = true;
			for (const key of sortedKeys(Object.keys(record))) {
				const item = record[key];
				if (item === undefined) {
					continue;
				}

				text += (first ? '' : ',') + quotedKey(key) + serialize(item);
				first = false;
			}

			return text + '}';
		}

		default: {
			throw new TypeError(`canonical JSON has no form for ${typeof value}`);
		}
	}
}
