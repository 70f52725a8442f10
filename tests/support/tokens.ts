import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT } from 'jose';

export const ISSUER = 'https://auth.test.local';
export const AUDIENCE = 'chat-sessions';
export const HS_SECRET = 'a-test-secret-that-is-long-enough-for-hs256!';

type Claims = Record<string, unknown> & { sub?: string };
type Options = { expiresIn?: string | number; notBefore?: string | number; issuer?: string; audience?: string };

export async function hsToken(claims: Claims, options: Options = {}, secret = HS_SECRET): Promise<string> {
  return sign(new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }), options).sign(new TextEncoder().encode(secret));
}

function sign(jwt: SignJWT, { expiresIn = '5m', notBefore, issuer = ISSUER, audience = AUDIENCE }: Options): SignJWT {
  jwt.setIssuedAt().setIssuer(issuer).setAudience(audience).setExpirationTime(expiresIn);
  if (notBefore !== undefined) jwt.setNotBefore(notBefore);
  return jwt;
}

/** Asymmetric keys served as a JWKS from a loopback HTTP server; `rotate` adds a key with a new kid. */
export async function startJwksServer() {
  const keys: { kid: string; alg: 'RS256' | 'ES256'; privateKey: CryptoKey | Uint8Array; publicJwk: JWK; publicPem: string }[] = [];
  let fetches = 0;
  const addKey = async (kid: string, alg: 'RS256' | 'ES256') => {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    keys.push({ kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }, publicPem: await exportSPKI(publicKey) });
  };
  await addKey('rsa-1', 'RS256');
  await addKey('ec-1', 'ES256');
  const server: Server = createServer((_request, response) => {
    fetches++;
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ keys: keys.map((key) => key.publicJwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    fetches: () => fetches,
    rotate: (kid: string) => addKey(kid, 'RS256'),
    publicPem: (kid: string) => keys.find((key) => key.kid === kid)!.publicPem,
    async token(kid: string, claims: Claims, options: Options = {}) {
      const key = keys.find((candidate) => candidate.kid === kid)!;
      return sign(new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid, typ: 'JWT' }), options).sign(key.privateKey);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** An unsigned token (`alg: none`), as an attacker would forge it. */
export function unsignedToken(claims: Claims): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ iss: ISSUER, aud: AUDIENCE, exp: now + 300, ...claims })}.`;
}
