/**
 * A ChatGPT login (Codex's `codex login`) brokered like any other grant:
 * the bottle's Codex gets an `auth.json` whose tokens look like the user's
 * — same header and claims, so Codex knows the account, plan and expiry —
 * but carry a signature that is not OpenAI's and a refresh token that is
 * moat's. The proxy swaps in the real access token on chatgpt.com and
 * answers refreshes itself, so a bottle never rotates (and so never signs
 * out) the host's login. Pure: text in, text out.
 */

import {usageError} from '../errors.js';

/** What the bottle holds instead of the host's refresh token. */
export const placeholderRefreshToken = 'moat-placeholder-refresh-token';

/** Where Codex refreshes and revokes its tokens. */
export const chatgptAuthHost = 'auth.openai.com';

const fakeSignature = Buffer.from('moat placeholder: not a signature').toString('base64url');

type Claims = Record<string, unknown>;

/** The claims of a JWT (not verified: moat only reads what its own grant holds). */
export function decodeClaims(token: string): Claims | undefined {
	const payload = token.split('.')[1];
	try {
		const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as unknown;
		return typeof claims === 'object' && claims !== null && !Array.isArray(claims) ? claims as Claims : undefined;
	} catch {
		return undefined;
	}
}

function encode(value: unknown): string {
	return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function objectAt(claims: Claims, key: string): Claims {
	const value = claims[key];
	return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Claims : {};
}

/** The ChatGPT account (workspace) the token belongs to; Codex sends it as `chatgpt-account-id`. */
export function chatgptAccountId(token: string): string | undefined {
	const id = objectAt(decodeClaims(token) ?? {}, 'https://api.openai.com/auth').chatgpt_account_id;
	return typeof id === 'string' ? id : undefined;
}

export type PlaceholderTokens = {id_token: string; access_token: string; refresh_token: string};

/**
 * Tokens for the bottle: the real access token's claims under a fake
 * signature, and an id token carrying the same account claims plus the
 * email Codex shows. Neither is accepted by OpenAI; only the proxy's
 * injected token is.
 */
export function placeholderTokens(accessToken: string): PlaceholderTokens {
	const claims = decodeClaims(accessToken);
	if (!claims) {
		throw usageError('The openai grant says it is a ChatGPT login, but its token is not one moat can read (a JWT was expected).', 'Sign in again with codex login, then run moat grant openai.');
	}

	const header = accessToken.split('.')[0]!;
	const profile = objectAt(claims, 'https://api.openai.com/profile');
	const idClaims = {
		...claims,
		...(typeof profile.email === 'string' ? {email: profile.email, email_verified: profile.email_verified ?? true} : {}),
	};
	return {
		id_token: `${header}.${encode(idClaims)}.${fakeSignature}`,
		access_token: `${header}.${encode(claims)}.${fakeSignature}`,
		refresh_token: placeholderRefreshToken,
	};
}

/** The bottle's `$CODEX_HOME/auth.json` for a ChatGPT login, refreshed as of `now` so Codex does not ask at once. */
export function placeholderAuthFile(accessToken: string, now: Date): string {
	const tokens = placeholderTokens(accessToken);
	const accountId = chatgptAccountId(accessToken);
	return JSON.stringify({
		OPENAI_API_KEY: null,
		tokens: {...tokens, ...(accountId ? {account_id: accountId} : {})},
		last_refresh: now.toISOString(),
	}, null, 2) + '\n';
}

export type LocalAnswer = {status: number; body: string};

/**
 * What the proxy says to a bottle's request to auth.openai.com: a refresh
 * gets the placeholders again, a revoke is a no-op (there is nothing real
 * to revoke), anything else — a login flow — is refused, because signing
 * in happens on the host.
 */
export function answerAuthRequest(accessToken: string, method: string, path: string, now = new Date()): LocalAnswer {
	const pathname = path.split('?')[0];
	const expiry = decodeClaims(accessToken)?.exp;
	if (method === 'POST' && pathname === '/oauth/token' && typeof expiry === 'number' && expiry * 1000 <= now.getTime()) {
		// Fresh placeholders for an expired login would only lead to more refreshes; say what to do instead.
		return {status: 401, body: JSON.stringify({error: 'invalid_grant', error_description: 'The ChatGPT login moat holds has expired: run codex login on this machine, then moat grant openai.'})};
	}

	if (method === 'POST' && pathname === '/oauth/token') {
		return {status: 200, body: JSON.stringify(placeholderTokens(accessToken))};
	}

	if (method === 'POST' && pathname === '/oauth/revoke') {
		return {status: 200, body: '{}'};
	}

	return {
		status: 403,
		body: JSON.stringify({error: {message: 'Moat answers auth.openai.com for this bottle: sign in on the host (codex login), then run moat grant openai.'}}),
	};
}
