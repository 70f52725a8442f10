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

/** Signs exactly these claims (no iss, aud, iat or exp added), as another issuer shapes its tokens. */
export async function hsSigned(claims: Record<string, unknown>, secret = HS_SECRET): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret));
}

/**
 * Claims exactly as Supabase shapes them: its service and anon keys (long-lived, no `sub`, no
 * `aud`, issuer "supabase") and a signed-in user's access token.
 */
export const supabase = {
  serviceKey: (ref: string) => ({ iss: 'supabase', ref, role: 'service_role', ...lifetime(10 * 365 * 86_400) }),
  anonKey: (ref: string) => ({ iss: 'supabase', ref, role: 'anon', ...lifetime(10 * 365 * 86_400) }),
  userAccessToken: (ref: string, sub: string) => {
    const { iat, exp } = lifetime(3600);
    return {
      aud: 'authenticated',
      exp,
      iat,
      iss: `https://${ref}.supabase.co/auth/v1`,
      sub,
      email: 'someone@example.com',
      phone: '',
      app_metadata: { provider: 'email', providers: ['email'] },
      user_metadata: { email_verified: true },
      role: 'authenticated',
      aal: 'aal1',
      amr: [{ method: 'password', timestamp: iat }],
      session_id: '5b5ab6a2-5c1e-4c26-9f0d-8a6c1b2e3f40',
      is_anonymous: false,
    };
  },
};

function lifetime(seconds: number) {
  const iat = Math.floor(Date.now() / 1000);
  return { iat, exp: iat + seconds };
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
    /** Signs exactly these claims, as hsSigned does. */
    async signed(kid: string, claims: Record<string, unknown>) {
      const key = keys.find((candidate) => candidate.kid === kid)!;
      return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid, typ: 'JWT' }).sign(key.privateKey);
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
