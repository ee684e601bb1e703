import fs from 'node:fs/promises';
import path from 'node:path';
import {makeBundle, verifyBundle, type AuditBundle} from '../audit/audit-bundle.js';
import type {Checkpoint, Verification} from '../audit/audit-chain.js';
import {createAuditLog, witnessFile, type AuditLog} from '../audit/audit-log.js';
import {checkRunAudit, verifyWitness, type WitnessVerification} from '../audit/audit-witness.js';
import {MoatError, usageError} from '../errors.js';
import {isActive} from '../runs/run-metadata.js';
import {resolveRun} from '../runs/run-resolution.js';
import {createRunStore} from '../runs/run-store.js';
import type {Command, CommandContext} from './command.js';
import {counted, formatJson} from '../output/format.js';
import {printable} from '../text/printable.js';

/** The last line of a report: sealed, open, or what is missing or wrong. Never "verified" for a log that stops short. */
function verdict(verification: Verification): string {
	const failure = verification.failure ? `${printable(verification.failure.what)}: ${printable(verification.failure.reason)}.` : '';
	switch (verification.state) {
		case 'sealed': {
			return 'Sealed: the log ends with run.exited under a signed checkpoint, and the chain, the Merkle tree and every signature hold.';
		}

		case 'open': {
			return 'Open, whole so far: the run is still going; the chain, the Merkle tree and every signature hold.';
		}

		case 'short': {
			return `NOT SEALED: ${failure}`;
		}

		default: {
			return `NOT VERIFIED: ${failure}`;
		}
	}
}

function report(context: CommandContext, subject: string, verification: Verification, extra: string[] = [], json: Record<string, unknown> = {}): number {
	if (context.flags.json) {
		context.stdout.write(formatJson({subject, ...verification, ...json}));
	} else {
		const counts = Object.entries(verification.countsByType).sort(([a], [b]) => a.localeCompare(b)).map(([type, count]) => `  ${printable(type).padEnd(22)} ${count}`);
		context.stdout.write([
			`${printable(subject)}: ${counted(verification.entries, 'entry', 'entries')}, ${counted(verification.checkpoints, 'signed checkpoint')}`,
			...counts,
			`Signing key ${printable(verification.keyFingerprint)}`,
			...(verification.ok && verification.unsigned > 0 ? [`${verification.unsigned === 1 ? 'The newest entry is' : `${verification.unsigned} newest entries are`} chained but not yet signed (the run is still going).`] : []),
			...extra,
			verdict(verification),
		].join('\n') + '\n');
	}

	return verification.ok ? 0 : 1;
}

/** What the witness says of one run, in a line. */
function witnessLine(witnessed: Checkpoint | undefined, witness: WitnessVerification, ended: boolean): string {
	if (!witness.ok) {
		return `Witness: ${printable(witness.failure!.what)}: ${printable(witness.failure!.reason)}.`;
	}

	if (witnessed) {
		return `Witness: holds its final checkpoint of ${witnessed.treeSize} entries (root ${witnessed.rootHash.slice(0, 16)}…).`;
	}

	return ended ? 'Witness: holds no final checkpoint of this run.' : 'Witness: nothing yet (a run is witnessed when it is sealed).';
}

/** `moat audit --witness`: the witness's own chain, its head to pin, and a pinned head checked. */
async function auditWitness(context: CommandContext, log: AuditLog): Promise<number> {
	const pinned = context.flags.head as string | undefined;
	if (pinned !== undefined && !/^[\da-f]{64}$/.test(pinned)) {
		throw usageError(`--head ${printable(pinned)} is not a witness head.`, 'Pass the 64 hex digits moat audit --witness printed as the head.');
	}

	const file = witnessFile(context.environment.moatHome);
	const entries = await log.readWitness();
	const verification = verifyWitness(entries, pinned);
	if (context.flags.json) {
		context.stdout.write(formatJson({witness: file, ...verification}));
		return verification.ok ? 0 : 1;
	}

	const head = verification.head ? `Head ${verification.head.seq} ${verification.head.hash}` : 'Head: none (no run has been sealed yet)';
	context.stdout.write([
		`Witness log ${printable(file)}: ${entries.length} sealed runs`,
		head,
		verification.ok
			? (verification.pinned ? 'Verified: the chain holds, and the pinned head is in it: nothing up to it was cut back or rewritten.' : 'Verified: the chain holds. Keep the head elsewhere; moat audit --witness --head HASH later shows the witness was not cut back or rewritten up to it.')
			: `NOT VERIFIED: ${printable(verification.failure!.what)}: ${printable(verification.failure!.reason)}.`,
	].join('\n') + '\n');
	return verification.ok ? 0 : 1;
}

export const auditCommand: Command = {
	help: `
  Usage
    $ moat audit [run] [--export FILE] [--json]
    $ moat audit --witness [--head HASH] [--json]

  Checks the run's tamper-evident log (default: the newest run): every
  entry's hash and its link to the one before, the Merkle tree, and every
  signed checkpoint. A run that has ended must be sealed: its log ends
  with run.exited under a signed checkpoint, which the witness log (kept
  outside the run's folder) also holds. Says "Sealed", "Open" (still
  going), or names the first entry that fails or what is missing (exit 1).
  Prints the signing key's fingerprint, which moat verify-bundle --key
  can pin.

  Flags
    --export FILE   Also write a proof bundle that verifies with nothing else
    --witness       Check the witness log and print its head, to keep elsewhere
    --head HASH     With --witness: a head kept earlier must still be in it
    --json          Print the result as JSON
`,
	flags: {export: {type: 'string'}, json: {type: 'boolean'}, witness: {type: 'boolean'}, head: {type: 'string'}},
	operands: ['run'],
	async run(context) {
		const log = createAuditLog(context.environment.moatHome, context.environment.now);
		if (context.flags.witness) {
			if (context.input.length > 0 || context.flags.export !== undefined) {
				throw usageError('moat audit --witness checks the witness of every run; it takes no run and no --export.', 'Run moat audit --witness alone, and moat audit RUN for one run.');
			}

			return auditWitness(context, log);
		}

		if (context.flags.head !== undefined) {
			throw usageError('--head checks a pinned head of the witness log.', 'Run moat audit --witness --head HASH.');
		}

		const store = createRunStore(context.environment.moatHome);
		// A damaged record is when the log matters most: it is checked all the same.
		const {runs, damaged} = await store.scan();
		const run = resolveRun(runs, context.input[0], damaged);
		const {entries, checkpoints} = await log.read(run.id);
		if (entries.length === 0) {
			throw new MoatError(`Run ${run.id} has no audit log.`, 'Runs started by this version of moat keep one; older runs do not.');
		}

		const publicKey = await log.publicKeyPem();
		// Whether a damaged run has ended cannot be read from its record: its log's own exit says so.
		const active = run.state === 'damaged' ? !entries.some(entry => entry.type === 'run.exited') : isActive(run);
		const {verification, witness, witnessed, mustEnd: ended} = checkRunAudit({entries, checkpoints, publicKey, witness: await log.readWitness()}, run.id, !active);
		const target = context.flags.export as string | undefined;
		const extra = [witnessLine(witnessed, witness, ended)];
		if (run.state === 'damaged') {
			extra.unshift(`The run's record is damaged (${printable(run.damage)}); its audit log is checked as it stands.`);
		}
		if (target !== undefined && !ended) {
			extra.push('The run is still going: the bundle will not verify as sealed. Export it again once the run has ended.');
		}

		const code = report(context, `Audit log of ${run.id} (${printable(run.name ?? 'damaged')})`, verification, extra, {witness: {ok: witness.ok, entries: witness.entries, head: witness.head ?? null, holds: witnessed ?? null}});
		if (target !== undefined) {
			const file = path.resolve(context.cwd, target);
			await fs.writeFile(file, JSON.stringify(makeBundle(run.id, publicKey, entries, checkpoints), undefined, 2) + '\n');
			context.stderr.write(`Wrote the proof bundle to ${printable(file)}.\n`);
		}

		return code;
	},
};

export const verifyBundleCommand: Command = {
	help: `
  Usage
    $ moat verify-bundle FILE [--key FINGERPRINT] [--json]

  Verifies a bundle from moat audit --export with nothing but the file,
  and that it is sealed: the log ends with run.exited under a signed
  checkpoint (a bundle of a run still going, or cut back, fails).
  Without --key it proves the log is consistent, not who wrote it; with
  --key (the fingerprint moat audit printed) a bundle signed by any other
  key fails.
`,
	flags: {key: {type: 'string'}, json: {type: 'boolean'}},
	operands: ['FILE'],
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
