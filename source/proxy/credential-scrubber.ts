import {Transform} from 'node:stream';
import zlib from 'node:zlib';
import type {InjectableGrant, ProviderRule} from './injection-rules.js';
import {injectionRules} from './injection-rules.js';

/**
 * Keeps an upstream from handing a credential back to the agent (README:
 * The network). A host that gets a grant's token may echo it — in a body,
 * a header, `WWW-Authenticate` — so every response from such a host is
 * searched for the token in every form moat sends it and each occurrence is
 * replaced by asterisks of the same length (a Content-Length stays true).
 * The forms come from the injection rules themselves, so a provider's new
 * header shape is covered without a second list.
 */

/** A secret to look for, with the grant it belongs to (for the audit log). */
export type CredentialForm = {grant: string; value: string};

/** Shorter text is too common to be a credential's form (an auth scheme, a user name). */
const shortestForm = 12;

/**
 * Every form in which moat sends the grants' tokens: the token itself, each
 * header value a rule of its provider makes from it (`Bearer …`, `Basic
 * base64(x-access-token:…)`), each such value without its auth scheme, and
 * their URL-encoded spellings where those differ.
 */
export function credentialForms(grants: readonly InjectableGrant[], rules: readonly ProviderRule[] = injectionRules): CredentialForm[] {
	const forms = new Map<string, string>();
	for (const grant of grants) {
		const values = [grant.token];
		for (const rule of rules.filter(candidate => candidate.provider === grant.provider)) {
			for (const value of Object.values(rule.headers(grant.token))) {
				values.push(value, value.split(/\s+/).at(-1)!);
			}
		}

		for (const value of values.flatMap(value => [value, encodeURIComponent(value)])) {
			if (value.length >= shortestForm && !forms.has(value)) {
				forms.set(value, grant.name);
			}
		}
	}

	// Longest first: `Bearer TOKEN` is replaced whole before `TOKEN` alone.
	return [...forms].map(([value, grant]) => ({grant, value})).sort((a, b) => b.value.length - a.value.length);
}

/** Replaces every form in `buffer` with asterisks of its length; which grants were found. */
export function scrubBuffer(buffer: Buffer, forms: readonly CredentialForm[]): {output: Buffer; grants: string[]} {
	let output = buffer;
	const found = new Set<string>();
	for (const form of forms) {
		let index = output.indexOf(form.value);
		while (index !== -1) {
			if (output === buffer) {
				output = Buffer.from(buffer);
			}

			output.fill('*', index, index + form.value.length);
			found.add(form.grant);
			index = output.indexOf(form.value, index + form.value.length);
		}
	}

	return {output, grants: [...found]};
}

/** The same for text (header values). */
export function scrubText(text: string, forms: readonly CredentialForm[]): {output: string; grants: string[]} {
	let output = text;
	const found = new Set<string>();
	for (const form of forms) {
		if (output.includes(form.value)) {
			output = output.replaceAll(form.value, '*'.repeat(form.value.length));
			found.add(form.grant);
		}
	}

	return {output, grants: [...found]};
}

/**
 * How many bytes at the end of `buffer` could be the start of a form: held
 * back until the next chunk shows whether they are. Only those: a chunk
 * that cannot end inside a credential goes out whole, so a stream (server-
 * sent events) is not delayed.
 */
export function heldBackLength(buffer: Buffer, forms: readonly CredentialForm[]): number {
	const longest = Math.max(0, ...forms.map(form => form.value.length - 1));
	for (let length = Math.min(longest, buffer.length); length > 0; length--) {
		const tail = buffer.subarray(buffer.length - length);
		if (forms.some(form => form.value.length > length && tail.equals(Buffer.from(form.value.slice(0, length))))) {
			return length;
		}
	}

	return 0;
}

/** A body stream with every form replaced, even one split across chunks; `found` hears of each grant seen. */
export function scrubbingStream(forms: readonly CredentialForm[], found: (grants: string[]) => void): Transform {
	let carry: Buffer = Buffer.alloc(0);
	return new Transform({
		transform(chunk: Buffer, _encoding, callback) {
			const {output, grants} = scrubBuffer(Buffer.concat([carry, chunk]), forms);
			if (grants.length > 0) {
				found(grants);
			}

			const held = heldBackLength(output, forms);
			carry = output.subarray(output.length - held);
			callback(null, output.subarray(0, output.length - held));
		},
		flush(callback) {
			// What is left is a proper start of a form, never a whole one.
			callback(null, carry);
		},
	});
}

/**
 * Streams that undo a Content-Encoding (`gzip, br` is undone right to left),
 * or undefined when one of its codings is not known: such a body cannot be
 * searched, so it is not delivered.
 */
export function decodersFor(contentEncoding: string | undefined): Transform[] | undefined {
	const codings = (contentEncoding ?? '').split(',').map(coding => coding.trim().toLowerCase()).filter(coding => coding !== '' && coding !== 'identity');
	const decoders: Transform[] = [];
	for (const coding of codings.reverse()) {
		switch (coding) {
			case 'gzip':
			case 'x-gzip': {
				decoders.push(zlib.createGunzip());
				break;
			}

			case 'deflate': {
				// RFC 9110's deflate has the zlib wrapper; a raw stream fails to decode and the response is ended.
				decoders.push(zlib.createUnzip());
				break;
			}

			case 'br': {
				decoders.push(zlib.createBrotliDecompress());
				break;
			}

			case 'zstd': {
				decoders.push(zlib.createZstdDecompress());
				break;
			}

			default: {
				return undefined;
			}
		}
	}

	return decoders;
}
