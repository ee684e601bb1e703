import test from 'ava';
import {exitCodes, MoatError} from '../source/errors.js';
import {checkHostPath, parseMount, protectedPaths, type MountSpec} from '../source/workspace/mount-policy.js';

const base = '/home/u/project';

const goodSpecs: Array<{spec: string; expected: MountSpec; why: string}> = [
	{spec: './data:/data', expected: {source: '/home/u/project/data', target: '/data', readOnly: false}, why: 'a ./ source is resolved against the base'},
	{spec: 'data:/data', expected: {source: '/home/u/project/data', target: '/data', readOnly: false}, why: 'a bare relative source is resolved against the base'},
	{spec: '../shared:/shared', expected: {source: '/home/u/shared', target: '/shared', readOnly: false}, why: 'a ../ source leaves the base'},
	{spec: '/srv/cache:/cache', expected: {source: '/srv/cache', target: '/cache', readOnly: false}, why: 'an absolute source is kept'},
	{spec: './data:/data:ro', expected: {source: '/home/u/project/data', target: '/data', readOnly: true}, why: ':ro makes it read-only'},
	{spec: './data:/data:rw', expected: {source: '/home/u/project/data', target: '/data', readOnly: false}, why: ':rw makes it writable'},
	{spec: './data:/opt//data/./x', expected: {source: '/home/u/project/data', target: '/opt/data/x', readOnly: false}, why: 'the destination is normalised'},
	{spec: './data:/workspace/data', expected: {source: '/home/u/project/data', target: '/workspace/data', readOnly: false}, why: 'a directory inside /workspace is allowed'},
	{spec: './data:/data/', expected: {source: '/home/u/project/data', target: '/data', readOnly: false}, why: 'a trailing slash is dropped from the destination'},
	{spec: './data://data', expected: {source: '/home/u/project/data', target: '/data', readOnly: false}, why: 'a doubled leading slash is collapsed'},
	{spec: './data:/data/x/..', expected: {source: '/home/u/project/data', target: '/data', readOnly: false}, why: 'a trailing .. is resolved'},
	{spec: './data:/workspace/../workspace/x', expected: {source: '/home/u/project/data', target: '/workspace/x', readOnly: false}, why: 'a path that leaves and re-enters /workspace ends inside it'},
	{spec: './data:/workspace/x/..data', expected: {source: '/home/u/project/data', target: '/workspace/x/..data', readOnly: false}, why: '"..data" is a name, not a step up'},
];

for (const {spec, expected, why} of goodSpecs) {
	test(`parseMount("${spec}") gives ${expected.source} → ${expected.target}${expected.readOnly ? ' read-only' : ''} (${why})`, t => {
		t.deepEqual(parseMount(spec, base, 'agent.yaml'), expected);
	});
}

const badSpecs: Array<{spec: string; message: RegExp; hint: RegExp; why: string}> = [
	{spec: './data', message: /is not source:destination\[:ro\]/, hint: /source:destination or source:destination:ro/, why: 'it has no destination'},
	{spec: './data:', message: /is not source:destination\[:ro\]/, hint: /source:destination/, why: 'the destination is empty'},
	{spec: ':/data', message: /is not source:destination\[:ro\]/, hint: /source:destination/, why: 'the source is empty'},
	{spec: './data:/data:', message: /is not source:destination\[:ro\]/, hint: /source:destination/, why: 'the mode is empty'},
	{spec: './data:/data:ro:extra', message: /is not source:destination\[:ro\]/, hint: /source:destination/, why: 'it has four parts'},
	{spec: '', message: /is not source:destination\[:ro\]/, hint: /source:destination/, why: 'it is empty'},
	{spec: './data:/data:RO', message: /has mode "RO"; only ro and rw exist/, hint: /source:destination:ro/, why: 'modes are lowercase'},
	{spec: './data:/data:readonly', message: /has mode "readonly"/, hint: /source:destination:ro/, why: 'readonly is not a mode'},
	{spec: './data:data', message: /has a relative destination "data"/, hint: /absolute destination/, why: 'the destination is relative'},
	{spec: './data:./data', message: /has a relative destination "\.\/data"/, hint: /absolute destination/, why: 'the destination starts with ./'},
	{spec: './data:/workspace', message: /would replace \/workspace\.$/, hint: /such as \/data/, why: 'it would hide the workspace'},
	{spec: './data:/workspace/.', message: /would replace \/workspace\.$/, hint: /such as \/data/, why: '/workspace/. is the workspace'},
	{spec: './data:/tmp/../workspace', message: /would replace \/workspace\.$/, hint: /such as \/data/, why: 'the destination normalises to /workspace'},
	{spec: './data:/', message: /would replace \/\.$/, hint: /such as \/data/, why: 'it would replace the root'},
	{spec: './data:/workspace/', message: /would replace \/workspace\.$/, hint: /such as \/data/, why: '/workspace/ with a trailing slash is the workspace'},
	{spec: './data:/workspace//', message: /would replace \/workspace\.$/, hint: /such as \/data/, why: '/workspace// with two trailing slashes is the workspace'},
	{spec: './data:/workspace/..', message: /would replace \/\.$/, hint: /such as \/data/, why: '/workspace/.. is the root'},
	{spec: './data:/..', message: /would replace \/\.$/, hint: /such as \/data/, why: '/.. is the root'},
	{spec: './data://', message: /would replace \/\.$/, hint: /such as \/data/, why: '// is the root'},
	{spec: './data:///', message: /would replace \/\.$/, hint: /such as \/data/, why: '/// is the root'},
];

for (const {spec, message, hint, why} of badSpecs) {
	test(`parseMount("${spec}") is a usage error naming the spec and its origin because ${why}`, t => {
		const error = t.throws(() => parseMount(spec, base, '-m'), {instanceOf: MoatError, message});
		t.is(error?.exitCode, exitCodes.usage);
		t.true(error?.message.includes(`Mount "${spec}" (-m)`), error?.message);
		t.regex(error?.hint ?? '', hint);
	});
}

const protectedList = protectedPaths({
	moatHome: '/home/u/.moat',
	userHome: '/home/u',
	dockerSockets: ['/var/run/docker.sock', '/run/docker.sock'],
});

test('protectedPaths lists MOAT_HOME, ~/.ssh and the other credential stores in the home, and every Docker socket', t => {
	t.deepEqual(
		protectedList.map(entry => entry.path),
		[
			'/home/u/.moat',
			...['.ssh', '.config/gh', '.claude', '.claude.json', '.codex', '.aws', '.docker', '.config/gcloud', '.kube', '.gnupg', '.netrc', '.git-credentials'].map(name => `/home/u/${name}`),
			'/var/run/docker.sock',
			'/run/docker.sock',
		],
	);
});

for (const credentials of ['/home/u/.config/gh', '/home/u/.config/gh/hosts.yml', '/home/u/.claude/.credentials.json', '/home/u/.codex/auth.json', '/home/u/.aws', '/home/u/.docker/config.json', '/home/u/.config']) {
	test(`checkHostPath refuses ${credentials}, which is, holds or sits in another tool's credentials`, t => {
		t.throws(() => {
			checkHostPath(credentials, 'to mount', protectedList);
		}, {instanceOf: MoatError});
	});
}

for (const target of ['/etc/moat/init.d', '/usr/local/bin/moat-init', '/usr/sbin/gosu', '/etc', '/lib/x86_64-linux-gnu', '/home/moatuser', '/home/moatuser/.cache', '/home', '/var/lib', '/root/.bashrc']) {
	test(`parseMount refuses the target ${target}, where root would run or read what the agent chose`, t => {
		const error = t.throws(() => parseMount(`./d:${target}`, '/w', 'agent.yaml'), {instanceOf: MoatError});
		t.is(error?.exitCode, 2);
	});
}

for (const target of ['/data', '/mnt/cache', '/opt/tools', '/srv/app', '/workspace/sub', '/tmp/scratch']) {
	test(`parseMount allows the target ${target}`, t => {
		t.is(parseMount(`./d:${target}`, '/w', 'agent.yaml').target, target);
	});
}

const refused: Array<{hostPath: string; reason: string; why: string}> = [
	{hostPath: '/home/u/.moat', reason: 'it is moat\'s own data (MOAT_HOME).', why: 'it is MOAT_HOME itself'},
	{hostPath: '/home/u/.moat/runs/run_0123456789ab', reason: 'it is inside moat\'s own data (MOAT_HOME) at /home/u/.moat.', why: 'it is inside MOAT_HOME'},
	{hostPath: '/home/u', reason: 'it contains moat\'s own data (MOAT_HOME) at /home/u/.moat.', why: 'the home directory is a parent of MOAT_HOME'},
	{hostPath: '/home', reason: 'it contains moat\'s own data (MOAT_HOME) at /home/u/.moat.', why: 'it is a grandparent of MOAT_HOME'},
	{hostPath: '/', reason: 'it contains moat\'s own data (MOAT_HOME) at /home/u/.moat.', why: 'the root contains everything'},
	{hostPath: '/home/u/.ssh', reason: 'it is your SSH keys (~/.ssh).', why: 'it is ~/.ssh'},
	{hostPath: '/home/u/.ssh/id_ed25519', reason: 'it is inside your SSH keys (~/.ssh) at /home/u/.ssh.', why: 'it is a key inside ~/.ssh'},
	{hostPath: '/var/run/docker.sock', reason: 'it is the Docker socket.', why: 'it is the Docker socket'},
	{hostPath: '/run/docker.sock', reason: 'it is the Docker socket.', why: 'it is the second Docker socket'},
	{hostPath: '/var/run', reason: 'it contains the Docker socket at /var/run/docker.sock.', why: 'it contains the Docker socket'},
	{hostPath: '/home/u/.moat/..data', reason: 'it is inside moat\'s own data (MOAT_HOME) at /home/u/.moat.', why: '"..data" is a name inside MOAT_HOME, not a step out of it'},
	{hostPath: '/home/u/.ssh/..keys', reason: 'it is inside your SSH keys (~/.ssh) at /home/u/.ssh.', why: '"..keys" is a name inside ~/.ssh, not a step out of it'},
	{hostPath: '/home/u/.moat/...', reason: 'it is inside moat\'s own data (MOAT_HOME) at /home/u/.moat.', why: '"..." is a name inside MOAT_HOME'},
];

const refusedAfterNormalising: Array<{hostPath: string; normalized: string; reason: string; why: string}> = [
	{hostPath: '/home/u/.moat/', normalized: '/home/u/.moat', reason: 'it is moat\'s own data (MOAT_HOME).', why: 'a trailing slash still names MOAT_HOME itself'},
	{hostPath: '/home/u/.moat/.', normalized: '/home/u/.moat', reason: 'it is moat\'s own data (MOAT_HOME).', why: 'a trailing /. still names MOAT_HOME itself'},
	{hostPath: '/home/u/.moat/runs/..', normalized: '/home/u/.moat', reason: 'it is moat\'s own data (MOAT_HOME).', why: 'a step into and out of runs is MOAT_HOME itself'},
	{hostPath: '/home/u/project/../.ssh', normalized: '/home/u/.ssh', reason: 'it is your SSH keys (~/.ssh).', why: 'a detour through the project is ~/.ssh'},
	{hostPath: '/home/u/.ssh//id_ed25519', normalized: '/home/u/.ssh/id_ed25519', reason: 'it is inside your SSH keys (~/.ssh) at /home/u/.ssh.', why: 'a doubled slash is still inside ~/.ssh'},
];

for (const {hostPath, normalized, reason, why} of refusedAfterNormalising) {
	test(`checkHostPath refuses ${hostPath} and names it as ${normalized} because ${why}`, t => {
		const error = t.throws(() => {
			checkHostPath(hostPath, 'mount', protectedList);
		}, {instanceOf: MoatError});
		t.is(error?.exitCode, exitCodes.usage);
		t.is(error?.message, `Refusing mount ${normalized}: ${reason}`);
	});
}

for (const {hostPath, reason, why} of refused) {
	test(`checkHostPath refuses ${hostPath} because ${why}`, t => {
		const error = t.throws(() => {
			checkHostPath(hostPath, 'mount', protectedList);
		}, {instanceOf: MoatError});
		t.is(error?.exitCode, exitCodes.usage);
		t.is(error?.message, `Refusing mount ${hostPath}: ${reason}`);
		t.regex(error?.hint ?? '', /holds only what the agent should see/);
	});
}

const allowed: Array<{hostPath: string; why: string}> = [
	{hostPath: '/home/u/project', why: 'a project directory next to MOAT_HOME is unrelated to it'},
	{hostPath: '/home/u/project/data', why: 'a data directory in the workspace is unrelated'},
	{hostPath: '/srv/cache', why: 'a directory elsewhere on the disk is unrelated'},
	{hostPath: '/home/u/.sshx', why: 'a sibling whose name only starts with .ssh is not ~/.ssh'},
	{hostPath: '/home/u/.moat-backup', why: 'a sibling whose name only starts with .moat is not MOAT_HOME'},
	{hostPath: '/var/run/docker.sock.d', why: 'a name that only starts with the socket\'s is not the socket'},
	{hostPath: '/home/other', why: 'another user\'s home holds none of the protected paths'},
	{hostPath: '/home/u/..moat', why: 'a sibling named ..moat is not MOAT_HOME'},
	{hostPath: '/home/u/.ssh/../..x', why: 'a path that steps out of ~/.ssh ends beside it'},
	{hostPath: '/home/u/.moat/../project', why: 'a path that steps out of MOAT_HOME ends beside it'},
];

for (const {hostPath, why} of allowed) {
	test(`checkHostPath allows ${hostPath} because ${why}`, t => {
		t.notThrows(() => {
			checkHostPath(hostPath, 'mount', protectedList);
		});
	});
}

test('checkHostPath names what is being refused, as the caller describes it', t => {
	t.throws(() => {
		checkHostPath('/home/u', 'workspace', protectedList);
	}, {instanceOf: MoatError, message: /^Refusing workspace \/home\/u: /});
});

test('moat\'s agent cache, shared by every bottle, cannot be mounted, nor a folder that holds it', t => {
	const list = protectedPaths({moatHome: '/home/me/.moat', userHome: '/home/me', dockerSockets: [], agentCache: '/home/me/.cache/moat'});
	for (const candidate of ['/home/me/.cache/moat', '/home/me/.cache/moat/agents/x', '/home/me/.cache']) {
		const error = t.throws(() => {
			checkHostPath(candidate, 'a mount', list);
		}, {instanceOf: MoatError});
		t.regex(error.message, /agent cache/);
	}

	t.notThrows(() => {
		checkHostPath('/home/me/.cache/pip', 'a mount', list);
	});
});
