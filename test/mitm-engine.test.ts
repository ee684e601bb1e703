import test from 'ava';
import {applyInjection, clientHeaders, requestPath, upstreamHeaders} from '../source/proxy/mitm-engine.js';

test('the headers that go upstream are the request\'s own: the proxy\'s (the run token) stay behind, the rest as sent', t => {
	const sent = {
		host: 'api.github.com', authorization: 'token agent-sent', 'proxy-authorization': 'Basic bW9hdDpydW4tdG9rZW4=', 'proxy-connection': 'keep-alive',
		accept: '*/*', cookie: 'a=1; b=2', 'x-proxy-thing': 'kept',
	};
	t.deepEqual(upstreamHeaders(sent), {host: 'api.github.com', authorization: 'token agent-sent', accept: '*/*', cookie: 'a=1; b=2', 'x-proxy-thing': 'kept'});
	t.is(sent['proxy-authorization'], 'Basic bW9hdDpydW4tdG9rZW4=', 'the request itself is left as it came');
});

test('the injection replaces what the agent sent for auth on the copy that goes upstream', t => {
	const headers = upstreamHeaders({host: 'api.github.com', authorization: 'token agent-sent', 'proxy-authorization': 'Basic x'});
	applyInjection(headers, {grant: 'github', set: {authorization: 'Bearer real'}, merge: {}, remove: ['authorization', 'x-api-key']});
	t.deepEqual(headers, {host: 'api.github.com', authorization: 'Bearer real'});
});

const paths: Array<[string, string]> = [
	['/x?y=1', '/x?y=1'],
	['*', '*'],
	['http://example.com/a/b?c', '/a/b?c'],
	['http://example.com', '/'],
	['http://example.com?q=1', '/'],
	['http://example.com:8080/', '/'],
];
for (const [target, expected] of paths) {
	test(`the path sent upstream for ${target} is ${expected}`, t => {
		t.is(requestPath(target), expected);
	});
}

test('the answer\'s headers reach the client with names trimmed and public-key pins dropped', t => {
	t.deepEqual(clientHeaders({'content-type': 'text/plain', 'public-key-pins': 'pin-sha256="x"', 'public-key-pins-report-only': 'y', 'set-cookie': ['a=1', 'b=2']}), {
		'content-type': 'text/plain',
		'set-cookie': ['a=1', 'b=2'],
	});
});
