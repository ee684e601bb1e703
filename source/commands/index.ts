import type {CommandEntry} from './command.js';

/**
 * Every command, in the order `moat --help` lists them: names and summaries
 * only, each command's module imported when it is the one asked for. A
 * command's module may load the engine client, the terminal emulator or the
 * credential providers; `moat --version`, `moat --help` and every other
 * command start without them.
 */
export const commands: readonly CommandEntry[] = [
	{name: 'run', summary: 'Run a command in a container for a workspace', load: async () => (await import('./run-command.js')).runCommand},
	{name: 'attach', summary: 'Reattach to a running run', load: async () => (await import('./attach-command.js')).attachCommand},
	{name: 'claude', summary: 'Start Claude Code in a bottle (interactive, or -p for one answer)', load: async () => (await import('./claude-command.js')).claudeCommand},
	{name: 'codex', summary: 'Start Codex in a bottle (interactive, or -p for one answer)', load: async () => (await import('./codex-command.js')).codexCommand},
	{name: 'list', aliases: ['ls'], summary: 'List runs', load: async () => (await import('./list-command.js')).listCommand},
	{name: 'logs', summary: 'Show a run\'s output', load: async () => (await import('./logs-command.js')).logsCommand},
	{name: 'trace', summary: 'Show the requests a run made through the proxy', load: async () => (await import('./trace-command.js')).traceCommand},
	{name: 'stop', summary: 'Stop a run', load: async () => (await import('./stop-command.js')).stopCommand},
	{name: 'destroy', summary: 'Remove a run\'s container and data', load: async () => (await import('./stop-command.js')).destroyCommand},
	{name: 'status', summary: 'Show runs, images, disk usage and engine health', load: async () => (await import('./status-command.js')).statusCommand},
	{name: 'clean', summary: 'Remove stopped runs and unused moat images', load: async () => (await import('./clean-command.js')).cleanCommand},
	{name: 'grant', summary: 'Store a credential runs can use (grant list: show them)', load: async () => (await import('./grant-command.js')).grantCommand},
	{name: 'revoke', summary: 'Delete a grant', load: async () => (await import('./grant-command.js')).revokeCommand},
	{name: 'audit', summary: 'Verify a run\'s audit log and summarise it', load: async () => (await import('./audit-command.js')).auditCommand},
	{name: 'verify-bundle', summary: 'Verify an exported audit proof bundle offline', load: async () => (await import('./audit-command.js')).verifyBundleCommand},
	{name: 'deps', summary: 'Show the dependency registry (deps list, deps info NAME)', load: async () => (await import('./system-command.js')).depsCommand},
	{name: 'system', summary: 'Show moat\'s Docker objects (system images, system containers)', load: async () => (await import('./system-command.js')).systemCommand},
	{name: 'proxy', summary: 'Start, stop, restart or show the daemon that hosts the proxy', load: async () => (await import('./proxy-command.js')).proxyCommand},
	{name: '_daemon', hidden: true, summary: 'The moat daemon (started on demand; not for direct use)', load: async () => (await import('./proxy-command.js')).daemonCommand},
];

export function findCommand(name: string): CommandEntry | undefined {
	return commands.find(command => command.name === name || command.aliases?.includes(name));
}
