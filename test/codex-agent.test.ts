import test from 'ava';
import {codexArguments, codexConfig} from '../source/bottles/codex-recipe.js';

test('Codex\'s arguments: the bottle is the sandbox unless --noyolo; -p runs exec with the prompt after --', t => {
	t.deepEqual(codexArguments({}), ['--dangerously-bypass-approvals-and-sandbox']);
	t.deepEqual(codexArguments({noyolo: true}), []);
	t.deepEqual(codexArguments({prompt: 'say hi'}), ['exec', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox', '--', 'say hi']);
	t.deepEqual(codexArguments({prompt: '-x', noyolo: true}), ['exec', '--skip-git-repo-check', '--', '-x']);
});

test('Codex\'s arguments: -c resumes the last session and -r a given one, headless or not', t => {
	t.deepEqual(codexArguments({continue: true}), ['--dangerously-bypass-approvals-and-sandbox', 'resume', '--last']);
	t.deepEqual(codexArguments({resume: '01a201bd-11da'}), ['--dangerously-bypass-approvals-and-sandbox', 'resume', '01a201bd-11da']);
	t.deepEqual(codexArguments({continue: true, prompt: 'again'}), ['exec', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox', 'resume', '--last', '--', 'again']);
});

test('the bottle\'s Codex config reports finished turns to moat and checks for no updates', t => {
	t.regex(codexConfig(), /^notify = \["\/etc\/moat\/agent-hook", "waiting"\]$/m);
	t.regex(codexConfig(), /^check_for_update_on_startup = false$/m);
});
