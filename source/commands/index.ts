import {attachCommand} from './attach-command.js';
import {auditCommand, verifyBundleCommand} from './audit-command.js';
import {claudeCommand} from './claude-command.js';
import {cleanCommand} from './clean-command.js';
import {codexCommand} from './codex-command.js';
import {grantCommand, revokeCommand} from './grant-command.js';
import type {Command} from './command.js';
import {listCommand} from './list-command.js';
import {logsCommand} from './logs-command.js';
import {daemonCommand, proxyCommand} from './proxy-command.js';
import {runCommand} from './run-command.js';
import {statusCommand} from './status-command.js';
import {traceCommand} from './trace-command.js';
import {depsCommand, systemCommand} from './system-command.js';
import {destroyCommand, stopCommand} from './stop-command.js';

/** Every command, in the order `moat --help` lists them. */
export const commands: readonly Command[] = [
	runCommand,
	attachCommand,
	claudeCommand,
	codexCommand,
	listCommand,
	logsCommand,
	traceCommand,
	stopCommand,
	destroyCommand,
	statusCommand,
	cleanCommand,
	grantCommand,
	revokeCommand,
	auditCommand,
	verifyBundleCommand,
	depsCommand,
	systemCommand,
	proxyCommand,
	daemonCommand,
];

export function findCommand(name: string): Command | undefined {
	return commands.find(command => command.name === name || command.aliases?.includes(name));
}
