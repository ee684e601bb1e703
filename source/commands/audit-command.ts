import fs from 'node:fs/promises';
import path from 'node:path';
import {makeBundle, verifyBundle, type AuditBundle} from '../audit/audit-bundle.js';
import {verifyLog, type Verification} from '../audit/audit-chain.js';
import {createAuditLog} from '../audit/audit-log.js';
import {MoatError, usageError} from '../errors.js';
import {isActive} from '../runs/run-metadata.js';
import {resolveRun} from '../runs/run-resolution.js';
import {createRunStore} from '../runs/run-store.js';
import type {Command, CommandContext} from './command.js';
import {formatJson} from '../output/format.js';
import {printable} from '../text/printable.js';

function report(context: CommandContext, subject: string, verification: Verification, extra: string[] = []): number {
	if (context.flags.json) {
		context.stdout.write(formatJson({subject, ...verification}));
	} else {
		const counts = Object.entries(verification.countsByType).sort(([a], [b]) => a.localeCompare(b)).map(([type, count]) => `  ${printable(type).padEnd(22)} ${count}`);
		context.stdout.write([
			`${printable(subject)}: ${verification.entries} entries, ${verification.checkpoints} signed checkpoints`,
			...counts,
			`Signing key ${printable(verification.keyFingerprint)}`,
			...(verification.ok && verification.unsigned > 0 ? [`${verification.unsigned} newest entries are chained but not yet signed (the run is still going).`] : []),
			...extra,
			verification.ok ? 'Verified: the chain, the Merkle tree and every signature hold.' : `NOT VERIFIED: ${printable(verification.failure!.what)}: ${printable(verification.failure!.reason)}.`,
		].join('\n') + '\n');
	}

	return verification.ok ? 0 : 1;
}

export const auditCommand: Command = {
	name: 'audit',
	summary: 'Verify a run\'s audit log and summarise it',
	help: `
  Usage
    $ moat audit [run] [--export FILE] [--json]

  Checks the run's tamper-evident log (default: the newest run): every
  entry's hash and its link to the one before, the Merkle tree, and every
  signed checkpoint. Names the first entry that fails. Prints the signing
  key's fingerprint, which moat verify-bundle --key can pin.

  Flags
    --export FILE   Also write a proof bundle that verifies with nothing else
    --json          Print the result as JSON
`,
	flags: {export: {type: 'string'}, json: {type: 'boolean'}},
	async run(context) {
		const store = createRunStore(context.environment.moatHome);
		const run = resolveRun(await store.list(), context.input[0]);
		const log = createAuditLog(context.environment.moatHome, context.environment.now);
		const {entries, checkpoints} = await log.read(run.id);
		if (entries.length === 0) {
			throw new MoatError(`Run ${run.id} has no audit log.`, 'Runs started by this version of moat keep one; older runs do not.');
		}

		const publicKey = await log.publicKeyPem();
		const code = report(context, `Audit log of ${run.id} (${run.name})`, verifyLog(entries, checkpoints, publicKey, {runId: run.id, sealed: !isActive(run)}));
		const target = context.flags.export as string | undefined;
		if (target !== undefined) {
			const file = path.resolve(context.cwd, target);
			await fs.writeFile(file, JSON.stringify(makeBundle(run.id, publicKey, entries, checkpoints), undefined, 2) + '\n');
			context.stderr.write(`Wrote the proof bundle to ${printable(file)}.\n`);
		}

		return code;
	},
};

export const verifyBundleCommand: Command = {
	name: 'verify-bundle',
	summary: 'Verify an exported audit proof bundle offline',
	help: `
  Usage
    $ moat verify-bundle FILE [--key FINGERPRINT] [--json]

  Verifies a bundle from moat audit --export with nothing but the file.
  Without --key it proves the log is consistent, not who wrote it; with
  --key (the fingerprint moat audit printed) a bundle signed by any other
  key fails.
`,
	flags: {key: {type: 'string'}, json: {type: 'boolean'}},
	async run(context) {
		const [file] = context.input;
		if (!file) {
			throw usageError('Name the bundle to verify.', 'Run moat verify-bundle FILE (write one with moat audit --export FILE).');
		}

		let bundle: AuditBundle;
		try {
			bundle = JSON.parse(await fs.readFile(path.resolve(context.cwd, file), 'utf8')) as AuditBundle;
		} catch (error) {
			const reason = ((error as Error).message.split('\n')[0] ?? '').replace(/\.$/, '');
			throw usageError(`Cannot read ${printable(file)} as a bundle: ${printable(reason)}.`, 'Pass a file written by moat audit --export.', {cause: error});
		}

		let verification;
		try {
			verification = verifyBundle(bundle, context.flags.key as string | undefined);
		} catch (error) {
			throw usageError(`${printable(file)} is not a moat audit bundle (${printable((error as Error).message.split('\n')[0] ?? '')}).`, 'Pass a file written by moat audit --export.', {cause: error});
		}

		const origin = !verification.originPinned
			? 'Origin: not pinned (pass --key FINGERPRINT to prove who signed it).'
			: verification.failure?.what === 'the signing key'
				? 'Origin: signed by a different key than the pinned one.'
				: 'Origin: signed by the pinned key.';
		return report(context, `Bundle for ${bundle.runId}`, verification, [origin]);
	},
};
