import {randomBytes} from 'node:crypto';
import fs from 'node:fs/promises';

/**
 * Creates a private (0600) file holding `content`, unless it exists, and
 * returns what the file holds afterwards. The content is written whole to a
 * temporary file and then linked into place: link fails if the file exists,
 * so of several processes creating it at once exactly one wins, and nobody
 * ever reads a half-written file.
 */
export async function createFileOnce(file: string, content: string): Promise<string> {
	const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
	await fs.writeFile(temporary, content, {mode: 0o600});
	try {
		await fs.link(temporary, file);
		return content;
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
			throw error;
		}

		return fs.readFile(file, 'utf8');
	} finally {
		await fs.rm(temporary, {force: true});
	}
}
