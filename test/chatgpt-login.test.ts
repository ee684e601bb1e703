import test from 'ava';
import {answerAuthRequest, chatgptAccountId, placeholderAuthFile, placeholderRefreshToken, placeholderTokens} from '../source/credentials/chatgpt-login.js';

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const signature = 'real-signature-abcdef0123456789';
const claims = {
	exp: 2_000_000_000,
	'https://api.openai.com/auth': {chatgpt_account_id: 'acct-123', chatgpt_plan_type: 'plus'},
	'https://api.openai.com/profile': {email: 'dev@example.com', email_verified: true},
};
const accessToken = `${encode({alg: 'RS256', typ: 'JWT'})}.${encode(claims)}.${signature}`;
const decode = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

test('placeholder tokens keep the login\'s header and claims but not its signature, and the refresh token is moat\'s', t => {
	const tokens = placeholderTokens(accessToken);
	t.is(tokens.refresh_token, placeholderRefreshToken);
	t.is(tokens.access_token.split('.')[0], accessToken.split('.')[0]);
	t.deepEqual(decode(tokens.access_token), claims);
	t.not(tokens.access_token.split('.')[2], signature);
	t.false(JSON.stringify(tokens).includes(signature));
	t.like(decode(tokens.id_token), {email: 'dev@example.com', email_verified: true, 'https://api.openai.com/auth': {chatgpt_account_id: 'acct-123', chatgpt_plan_type: 'plus'}});
});

test('the bottle\'s auth.json names the account, holds no API key, and counts as just refreshed', t => {
	const now = new Date('2026-11-22T06:00:00.000Z');
	const file = JSON.parse(placeholderAuthFile(accessToken, now)) as {OPENAI_API_KEY: unknown; tokens: Record<string, string>; last_refresh: string};
	t.is(file.OPENAI_API_KEY, null);
	t.is(file.tokens.account_id, 'acct-123');
	t.is(file.last_refresh, now.toISOString());
	t.is(file.tokens.refresh_token, placeholderRefreshToken);
	t.is(chatgptAccountId(accessToken), 'acct-123');
});

test('a login moat cannot read is a usage error that says how to sign in again', t => {
	const error = t.throws(() => placeholderTokens('not-a-jwt'));
	t.regex(error.message, /not one moat can read/);
});

for (const [method, path, status] of [['POST', '/oauth/token', 200], ['POST', '/oauth/revoke', 200], ['GET', '/oauth/token', 403], ['GET', '/oauth/authorize?x=1', 403], ['POST', '/api/accounts/deviceauth/token', 403]] as const) {
	test(`auth.openai.com ${method} ${path} is answered ${status} by moat`, t => {
		const answer = answerAuthRequest(accessToken, method, path);
		t.is(answer.status, status);
		t.false(answer.body.includes(signature));
		if (path === '/oauth/token' && status === 200) {
			t.is((JSON.parse(answer.body) as {refresh_token: string}).refresh_token, placeholderRefreshToken);
		}
	});
}

test('a refresh of a login that has expired is refused with what to do, not answered with more expired placeholders', t => {
	const answer = answerAuthRequest(accessToken, 'POST', '/oauth/token', new Date((claims.exp + 1) * 1000));
	t.is(answer.status, 401);
	t.regex(answer.body, /codex login.*moat grant openai/);
});
