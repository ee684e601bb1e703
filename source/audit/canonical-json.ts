/**
 * Canonical JSON in the style of RFC 8785 (JCS): object keys sorted by UTF-16
 * code units, no whitespace, strings and numbers as ECMAScript serializes
 * them (which is what JCS specifies). The same value gives the same bytes on
 * any machine, so a hash over it verifies anywhere.
 */
export function canonicalJson(value: unknown): string {
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
					text += (index === 0 ? '' : ',') + canonicalJson(item === undefined ? null : item);
				}

				return text + ']';
			}

			// Only plain data: a Date or Map would serialize differently here
			// and in JSON.stringify, and the hash would not match what is stored.
			const prototype = Object.getPrototypeOf(value) as unknown;
			if (prototype !== Object.prototype && prototype !== null) {
				throw new TypeError(`canonical JSON has no form for ${(value as object).constructor?.name ?? 'this object'}; pass plain data`);
			}

			// Default sort compares UTF-16 code units, as JCS requires. Written
			// as loops: audit verification runs this for every entry.
			const record = value as Record<string, unknown>;
			const keys = Object.keys(record).sort();
			let text = '{';
			let first = true;
			for (const key of keys) {
				const item = record[key];
				if (item === undefined) {
					continue;
				}

				text += (first ? '' : ',') + JSON.stringify(key) + ':' + canonicalJson(item);
				first = false;
			}

			return text + '}';
		}

		default: {
			throw new TypeError(`canonical JSON has no form for ${typeof value}`);
		}
	}
}
