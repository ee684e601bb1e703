import {randomBytes, webcrypto, X509Certificate} from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
// @peculiar/x509 resolves its parsers through tsyringe, which needs this polyfill loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import {createFileOnce} from '../files/create-once.js';

/**
 * moat's certificate authority: the one adapter over @peculiar/x509. The CA
 * lives in MOAT_HOME (`proxy/ca.pem`, `proxy/ca-key.pem` 0600) and signs a
 * leaf for each host the proxy intercepts. Leaves are ECDSA P-256 and share
 * one key pair made when the authority opens, so minting a certificate is a
 * single signature (about a millisecond), not an RSA key generation.
 */
export type LeafCertificate = {cert: string; key: string};

export type CertificateAuthority = {
	/** The CA certificate (PEM) that containers trust. */
	readonly certificatePem: string;
	readonly certificateFile: string;
	/** A certificate for `host`, minted once and cached. */
	leafFor(host: string): Promise<LeafCertificate>;
};

const algorithm = {name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256'} as const;
const dayMilliseconds = 86_400_000;

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

function serialNumber(): string {
	// Positive, 16 random bytes: unique enough that a browser never sees a repeat.
	const bytes = randomBytes(16);
	bytes[0] = bytes[0]! & 0x7F;
	return bytes.toString('hex');
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
	const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
	return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importPrivateKey(pem: string): Promise<CryptoKey> {
	const der = x509.PemConverter.decodeFirst(pem);
	return webcrypto.subtle.importKey('pkcs8', der, algorithm, false, ['sign']);
}

async function createAuthority(): Promise<{cert: string; key: string}> {
	const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']) as CryptoKeyPair;
	const now = Date.now();
	const certificate = await x509.X509CertificateGenerator.createSelfSigned({
		serialNumber: serialNumber(),
		name: `CN=moat proxy CA ${randomBytes(3).toString('hex')}, O=moat`,
		notBefore: new Date(now - dayMilliseconds),
		notAfter: new Date(now + (3650 * dayMilliseconds)),
		signingAlgorithm: algorithm,
		keys,
		extensions: [
			new x509.BasicConstraintsExtension(true, 0, true),
			new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
			await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
		],
	});
	return {cert: certificate.toString('pem'), key: await privateKeyPem(keys.privateKey)};
}

/** Opens the CA in `directory`, creating it on first use (several processes may race: one wins). */
export async function openCertificateAuthority(directory: string): Promise<CertificateAuthority> {
	await fs.mkdir(directory, {recursive: true, mode: 0o700});
	const certificateFile = path.join(directory, 'ca.pem');
	const keyFile = path.join(directory, 'ca-key.pem');
	let keyPem = await fs.readFile(keyFile, 'utf8').catch(() => '');
	let certificatePem = await fs.readFile(certificateFile, 'utf8').catch(() => '');
	if (keyPem === '' || certificatePem === '') {
		const created = await createAuthority();
		// The key is created first and decides the winner; the certificate follows it.
		keyPem = await createFileOnce(keyFile, created.key);
		certificatePem = keyPem === created.key
			? await createFileOnce(certificateFile, created.cert)
			: await waitForFile(certificateFile);
	}

	const caCertificate = new x509.X509Certificate(certificatePem);
	const caKey = await importPrivateKey(keyPem);
	const leafKeys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']) as CryptoKeyPair;
	const leafKeyPem = await privateKeyPem(leafKeys.privateKey);
	const authorityKeyIdentifier = await x509.AuthorityKeyIdentifierExtension.create(caCertificate);
	const cache = new Map<string, Promise<LeafCertificate>>();

	async function mint(host: string): Promise<LeafCertificate> {
		const now = Date.now();
		const isAddress = /^[\d.]+$/.test(host) || host.includes(':');
		const certificate = await x509.X509CertificateGenerator.create({
			serialNumber: serialNumber(),
			subject: `CN=${host.replaceAll(/[,+="\\<>;]/g, '')}`,
			issuer: caCertificate.subject,
			notBefore: new Date(now - dayMilliseconds),
			// Under 398 days, the most clients accept for a leaf.
			notAfter: new Date(now + (365 * dayMilliseconds)),
			signingAlgorithm: algorithm,
			publicKey: leafKeys.publicKey,
			signingKey: caKey,
			extensions: [
				new x509.BasicConstraintsExtension(false, undefined, true),
				new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
				new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
				new x509.SubjectAlternativeNameExtension([{type: isAddress ? 'ip' : 'dns', value: host}]),
				authorityKeyIdentifier,
			],
		});
		return {cert: certificate.toString('pem'), key: leafKeyPem};
	}

	return {
		certificatePem,
		certificateFile,
		async leafFor(host) {
			const name = host.toLowerCase();
			let leaf = cache.get(name);
			if (!leaf) {
				leaf = mint(name);
				cache.set(name, leaf);
				leaf.catch(() => cache.delete(name));
			}

			return leaf;
		},
	};
}

async function waitForFile(file: string): Promise<string> {
	for (let attempt = 0; attempt < 100; attempt++) {
		const text = await fs.readFile(file, 'utf8').catch(() => '');
		if (text !== '') {
			return text;
		}

		await new Promise(resolve => {
			setTimeout(resolve, 20);
		});
	}

	throw new Error(`the proxy CA key exists but ${file} was never written; remove the proxy folder in MOAT_HOME and retry`);
}

/** Days until the CA expires, for `moat proxy status`. */
export function certificateExpiry(pem: string): Date {
	return new Date(new X509Certificate(pem).validTo);
}
