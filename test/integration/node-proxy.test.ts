import {dockerTest} from '../helpers/docker.js';
import {createWorld, newestRunId, parseProbes, probeScript} from '../helpers/proxy-world.js';
import {eventually} from '../helpers/moat.js';

/**
 * Node's own HTTP clients in a bottle (README: The network): every bottle
 * has NODE_USE_ENV_PROXY=1, so a Node that honours it sends `fetch()` and
 * `https.get()` through moat's proxy, where the grant's credential is
 * injected. A Node that ignores it dials directly, which the sealed network
 * does not let out: the request fails and nothing reaches the host. A real
 * bottle on each stand-in Node image, api.github.com a local stand-in.
 */

const answer = JSON.stringify({login: 'stand-in-octocat'});

/** A Node client's request, printing the status and body it got, or `failed: CODE` and exit 3. */
const fetchScript = 'fetch("https://api.github.com/user?from=fetch").then(async r => console.log(r.status, await r.text()), e => { console.log("failed:", e.cause?.code ?? e.message); process.exitCode = 3; })';
const httpsScript = 'require("https").get("https://api.github.com/user?from=https", r => { let body = ""; r.on("data", chunk => { body += chunk; }); r.on("end", () => console.log(r.statusCode, body)); }).on("error", e => { console.log("failed:", e.code ?? e.message); process.exitCode = 3; })';

const images = [
	{label: 'node:24-slim (base_image), Node 24', config: 'base_image: node:24-slim\n', approve: ['--base-image', 'node:24-slim'], honours: true},
	{label: 'node:20 (node@20), Node 20', config: 'dependencies:\n  - node@20\n', approve: [], honours: false},
];

for (const image of images) {
	dockerTest(`on ${image.label}: Node's fetch and https ${image.honours ? 'go through the proxy and get the grant\'s credential' : 'ignore NODE_USE_ENV_PROXY and fail; nothing leaves the bottle'}`, async t => {
		const world = await createWorld(t, {
			hosts: ['api.github.com'],
			files: {'agent.yaml': image.config},
			handler(_request, response) {
				response.writeHead(200, {'content-type': 'application/json'});
				response.end(answer);
			},
		});
		const token = await world.grantGithub();
		const result = await world.moat(['run', world.workspace, ...image.approve, '--grant', 'github', '--', 'sh', '-c', probeScript([
			['version', 'node --version; echo "NODE_USE_ENV_PROXY=$NODE_USE_ENV_PROXY"'],
			['fetch', `node -e '${fetchScript}'`],
			['https', `node -e '${httpsScript}'`],
		])]);
		t.is(result.code, 0, result.stderr);
		const probes = parseProbes(result.stdout);
		const [version = '', variable] = probes.version!.output.split('\n');
		t.is(variable, 'NODE_USE_ENV_PROXY=1');
		const major = Number(/^v(\d+)\./.exec(version)?.[1]);
		// The README's claim, as this image's Node shows it: 24 honours the variable, 20 does not.
		t.is(major >= 24, image.honours, version);

		const received = world.standIn.requests.filter(request => request.headers.host === 'api.github.com');
		if (image.honours) {
			t.deepEqual(probes.fetch, {code: 0, output: `200 ${answer}`});
			t.deepEqual(probes.https, {code: 0, output: `200 ${answer}`});
			// The stand-in got both through moat's proxy: that is where the credential is put in.
			t.deepEqual(received.map(request => [request.url, request.headers.authorization]).sort(), [
				['/user?from=fetch', `Bearer ${token}`],
				['/user?from=https', `Bearer ${token}`],
			]);
			const runId = await newestRunId(world);
			await eventually(async () => (await world.networkEntries(runId)).length === 2);
			t.deepEqual((await world.networkEntries(runId)).map(entry => [entry.url, entry.status, entry.grant]).sort(), [
				['https://api.github.com/user?from=fetch', 200, 'github'],
				['https://api.github.com/user?from=https', 200, 'github'],
			]);
		} else {
			t.is(probes.fetch!.code, 3, probes.fetch!.output);
			t.regex(probes.fetch!.output, /^failed: /);
			t.is(probes.https!.code, 3, probes.https!.output);
			t.deepEqual(received, [], 'nothing reached the host');
		}

		for (const output of world.outputs) {
			t.false(output.includes(token), 'moat never prints the token');
		}
	});
}
