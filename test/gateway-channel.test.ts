import {randomBytes} from 'node:crypto';
import http2 from 'node:http2';
import net from 'node:net';
import type {Duplex} from 'node:stream';
import test from 'ava';
import {openDialer, serveChannel} from '../source/gateway/gateway-channel.js';

/**
 * The daemon's ends of the Docker API channel, against Node's own HTTP/2 on
 * the other end of a real socket pair (what the gateway program does inside
 * its container, over an exec's stdio).
 */

async function socketPair(): Promise<[net.Socket, net.Socket]> {
	const server = net.createServer();
	await new Promise<void>(resolve => {
		server.listen(0, '127.0.0.1', resolve);
	});
	const accepted = new Promise<net.Socket>(resolve => {
		server.once('connection', resolve);
	});
	const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
	const serverSide = await accepted;
	server.close();
	return [serverSide, client];
}

async function readAll(stream: Duplex): Promise<Buffer> {
	const chunks: Buffer[] = [];
	for await (const chunk of stream) {
		chunks.push(chunk as Buffer);
	}

	return Buffer.concat(chunks);
}

test('serveChannel hands each CONNECT stream of the gateway to accept, bytes both ways, many at once, and says when it is ready and closed', async t => {
	const [daemonEnd, gatewayEnd] = await socketPair();
	const channel = serveChannel(daemonEnd, stream => {
		// An echo, as the proxy is a peer that answers what it is sent.
		stream.pipe(stream);
	});
	const session = http2.connect('http://moat-daemon', {createConnection: () => gatewayEnd});
	await channel.ready;
	const payloads = Array.from({length: 20}, () => randomBytes(256 * 1024));
	const echoed = await Promise.all(payloads.map(async payload => {
		const stream = session.request({':method': 'CONNECT', ':authority': 'proxy:0'});
		stream.end(payload);
		return readAll(stream);
	}));
	for (const [index, payload] of payloads.entries()) {
		t.true(echoed[index]!.equals(payload), `stream ${index} came back whole`);
	}

	const refused = session.request({':method': 'GET', ':path': '/'});
	const status = await new Promise<number>(resolve => {
		refused.once('response', headers => resolve(Number(headers[':status'])));
	});
	t.is(status, 405, 'only CONNECT streams are connections');
	refused.destroy();

	session.destroy();
	await channel.closed;
	t.pass('closed resolves when the gateway goes');
});

test('openDialer asks the gateway for a bottle\'s port: the stream is the connection, and a refusal rejects with the gateway\'s reason', async t => {
	const [daemonEnd, gatewayEnd] = await socketPair();
	const gateway = http2.createServer();
	gateway.on('stream', (stream, headers) => {
		if (headers[':authority'] === '10.231.0.3:3000') {
			stream.respond({':status': 200});
			stream.pipe(stream);
			return;
		}

		stream.respond({':status': 502, 'moat-error': 'ECONNREFUSED'});
		stream.end();
	});
	gateway.emit('connection', gatewayEnd);
	const dialer = openDialer(daemonEnd);
	await dialer.ready;
	const connection = await dialer.dial('10.231.0.3', 3000);
	connection.end('hello bottle');
	t.is((await readAll(connection)).toString(), 'hello bottle');
	await t.throwsAsync(dialer.dial('10.231.0.3', 4000), {message: 'connection refused by 10.231.0.3:4000 (ECONNREFUSED)'});
	dialer.close();
	await dialer.closed;
	await t.throwsAsync(dialer.dial('10.231.0.3', 3000), {message: 'the gateway\'s channel is closed'});
	gateway.close();
});
