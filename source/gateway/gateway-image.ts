import {createHash} from 'node:crypto';
import fs from 'node:fs/promises';

/**
 * The gateway's image: a Node base and one file, moat's gateway program
 * (gateway-program.ts, built). Its tag is a hash of both, so a moat with a
 * changed program makes a new image and replaces the gateway.
 */

/** Node 22+ with nothing else; MOAT_GATEWAY_BASE names another (say, a mirror's copy). */
export const defaultGatewayBase = 'node:24-slim';

export type GatewayRecipe = {tag: string; hash: string; baseImage: string; files: Record<string, string>};

export async function gatewayRecipe(base: string | undefined): Promise<GatewayRecipe> {
	const baseImage = base?.trim() || defaultGatewayBase;
	const program = await fs.readFile(new URL('gateway-program.js', import.meta.url), 'utf8');
	const dockerfile = [
		`FROM ${baseImage}`,
		'COPY gateway.mjs /moat/gateway.mjs',
		'CMD ["node", "/moat/gateway.mjs", "serve"]',
		'',
	].join('\n');
	const hash = createHash('sha256').update(dockerfile).update('\0').update(program).digest('hex').slice(0, 16);
	return {tag: `moat/gateway:${hash}`, hash, baseImage, files: {'Dockerfile': dockerfile, 'gateway.mjs': program}};
}
