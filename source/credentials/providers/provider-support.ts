import fs from 'node:fs/promises';
import {MoatError} from '../../errors.js';
import type {OutboundHttp} from '../../network/outbound-http.js';
import {decodeClaims} from '../chatgpt-login.js';
import {printable} from '../../text/printable.js';

/**
 * What the token providers share for detection and validation: reading a
 * CLI's JSON file without trusting its shape, and asking a provider's API
 * whether a token works, with errors that never carry the token.
 */

/** A JSON file's content, or undefined when it is missing or not JSON (a login that is not there). */
export async function readJson(file: string): Promise<unknown> {
	try {
		return JSON.parse(await fs.readFile(file, 'utf8')) as unknown;
	} catch {
		return undefined;
	}
}

/** The value at `keys` in parsed JSON, or undefined anywhere the shape is not as expected. */
export function field(value: unknown, ...keys: string[]): unknown {
	let current = value;
	for (const key of keys) {
		current = current && typeof current === 'object' ? (current as Record<string, unknown>)[key] : undefined;
	}

	return current;
}

/** The `exp` of a JWT, without trusting anything else in it. */
export function jwtExpiry(token: string): Date | undefined {
	const exp = decodeClaims(token)?.exp;
	return typeof exp === 'number' ? new Date(exp * 1000) : undefined;
}

function rejected(provider: string, status: number, body: string, fix: string): MoatError {
	let reason = `HTTP ${status}`;
	try {
		const parsed = JSON.parse(body) as {message?: string; error?: {message?: string} | string};
		const message = parsed.message ?? (typeof parsed.error === 'string' ? parsed.error : parsed.error?.message);
		if (message) {
			reason = message;
		}
	} catch {
		// An answer that is not JSON: the generic reason stands.
	}

	return new MoatError(`${provider} rejected the token: ${printable(reason)}.`, fix);
}

function unreachable(provider: string, error: unknown): MoatError {
	return new MoatError(
		`Could not check the token with ${provider}: ${printable((error as Error).message)}.`,
		'Check your network, or pass --no-validate to store it unchecked.',
		1,
		{cause: error},
	);
}

/** One GET to a provider's API with the token: its answer when 2xx, else a MoatError saying what to do (`fix` when refused). */
export async function check(
	http: OutboundHttp,
	provider: string,
	url: string,
	headers: Record<string, string>,
	fix: string,
): Promise<{body: string; headers: Record<string, string | string[] | undefined>}> {
	let response;
	try {
		response = await http.get(url, {'user-agent': 'moat', ...headers});
	} catch (error) {
		throw unreachable(provider, error);
	}

	if (response.status === 401 || response.status === 403) {
		throw rejected(provider, response.status, response.body, fix);
	}

	if (response.status < 200 || response.status >= 300) {
		throw new MoatError(`${provider} answered HTTP ${response.status} when checking the token.`, 'Try again later, or pass --no-validate to store it unchecked.');
	}

	return response;
}
