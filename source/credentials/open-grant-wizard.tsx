import process from 'node:process';
import {exitCodes} from '../errors.js';
import {printable} from '../text/printable.js';
import type {GrantService} from './grant-service.js';
import type {WizardResult} from './grant-wizard-services.js';

/**
 * The grant wizard, inline below the prompt (not full screen). In a module
 * of its own, so that Ink and React load only when the wizard opens.
 */
export async function openGrantWizard(service: GrantService): Promise<number> {
	const [{render}, {GrantWizard, GrantWizardContext}, {credentialProviders}, {grantWizardServices}, {grantedLine, savedLine}] = await Promise.all([
		import('ink'),
		import('../../components/grant-wizard.js'),
		import('./providers/provider-list.js'),
		import('./grant-wizard-services.js'),
		import('./grant.js'),
	]);
	const services = grantWizardServices(service, credentialProviders);

	let outcome: {result?: WizardResult; interrupted: boolean} = {interrupted: false};
	const app = render(
		<GrantWizardContext.Provider value={services}>
			<GrantWizard onDone={(result, {interrupted}) => {
				outcome = {result, interrupted};
			}} />
		</GrantWizardContext.Provider>,
		// Only ever opened on a terminal, where someone watches even if CI is set. Ctrl+C
		// is the wizard's to handle, so that leaving says what was (not) saved.
		{interactive: Boolean(process.stdout.isTTY), exitOnCtrlC: false},
	);
	await app.waitUntilExit();
	// The wizard's last frame is gone; what happened stays on the screen, as moat grant PROVIDER says it.
	if (outcome.result) {
		process.stdout.write(`${printable(grantedLine(outcome.result))}\n`);
		process.stderr.write(`${printable(savedLine(outcome.result.file, outcome.result.keyringBackend))}\n`);
		return exitCodes.success;
	}

	process.stderr.write('No grant saved.\n');
	return outcome.interrupted ? exitCodes.interrupted : exitCodes.failure;
}
