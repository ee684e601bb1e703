/**
 * Canonical JSON in the style of RFC 8785 (JCS): object keys sorted by UTF-16
 * code units, no whitespace, strings and numbers as ECMAScript serializes
 * them (which is what JCS specifies). The same value gives the same bytes on
 * any machine, so a hash over it verifies anywhere.
 */
export function canonicalJson(value: unknown): string {
	if (value === null || typeof value === 'boolean' || typeof value === 'string') {
		return JSON.stringify(value);
	}

	if (typeof value === 'number') {
		if (!Number.isFinite(value)) {
			throw new TypeError('canonical JSON has no form for NaN or Infinity');
		}

		return JSON.stringify(value);
	}

	if (Array.isArray(value)) {
		return `[${value.map(item => canonicalJson(item === undefined ? null : item)).join(',')}]`;
	}

	if (typeof value === 'object') {
		const entries = Object.entries(value as Record<string, unknown>)
			.filter(([, item]) => item !== undefined)
			// Plain < compares UTF-16 code units, as JCS requires.
			.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
		return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
	}

	throw new TypeError(`canonical JSON has no form for ${typeof value}`);
}
