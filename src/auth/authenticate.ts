import type { IncomingHttpHeaders } from 'node:http';
import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import type { Caller } from './caller.ts';

const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'];
const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
// What a user id may be (the contract's UserId); a token whose sub is not one cannot own sessions.
const USER_ID = /^[A-Za-z0-9._@:|+-]{1,255}$/;

export type Authenticate = (headers: IncomingHttpHeaders) => Promise<Caller>;

/**
 * Bearer JWTs (RFC 6750): HS256 with a shared secret (JWT_SECRET, as Supabase's legacy keys)
 * and/or asymmetric keys from a JWKS URL (JWT_JWKS_URL, cached, refetched on an unknown `kid`).
 * Each key only verifies its own family of algorithms, so a token signed with the public key
 * as an HMAC secret (algorithm confusion) or with `alg: none` never verifies.
 */
export function createAuthenticator(config: Config): Authenticate {
  if (config.AUTH_MODE === 'none') return async () => ({ kind: 'local' });

  const secret = config.JWT_SECRET ? new TextEncoder().encode(config.JWT_SECRET) : undefined;
  const jwks = config.JWT_JWKS_URL
    ? createRemoteJWKSet(new URL(config.JWT_JWKS_URL), {
        cooldownDuration: config.JWT_JWKS_COOLDOWN_MS,
        cacheMaxAge: 10 * 60_000,
      })
    : undefined;
  const keyFor: JWTVerifyGetKey = async (header, token) => {
    if (secret && HMAC_ALGORITHMS.includes(header.alg)) return secret;
    if (jwks && ASYMMETRIC_ALGORITHMS.includes(header.alg)) return jwks(header, token);
    throw new errors.JOSEAlgNotAllowed(`tokens signed with ${header.alg} are not accepted`);
  };
  const algorithms = [...(secret ? HMAC_ALGORITHMS : []), ...(jwks ? ASYMMETRIC_ALGORITHMS : [])];

  return async (headers) => {
    const token = bearerToken(headers.authorization);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keyFor, {
        algorithms,
        issuer: config.JWT_ISSUER,
        audience: config.JWT_AUDIENCE,
        clockTolerance: config.JWT_CLOCK_TOLERANCE_S,
        // Not `sub`: a service token may have none (Supabase's service key); callerOf decides.
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      if (isKeyFetchFailure(error)) {
        // Our key server is down, not the caller's token: a 503, like any dependency outage.
        throw new AppError('service_unavailable', 'The signing keys could not be fetched; retry later', {
          headers: { 'Retry-After': '1' },
        });
      }
      throw invalidToken(describeFailure(error));
    }
    return callerOf(payload, config.JWT_ADMIN_SCOPE);
  };
}

function bearerToken(authorization: string | undefined): string {
  if (!authorization) {
    throw new AppError('unauthorized', 'This operation needs a bearer token (Authorization: Bearer <JWT>)', {
      headers: { 'WWW-Authenticate': 'Bearer realm="chat-sessions"' },
    });
  }
  const match = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(authorization);
  if (!match) throw invalidRequest('The Authorization header must be "Bearer <JWT>"');
  return match[1]!;
}

/**
 * A service token (role service_role or the admin scope) acts for any user, with or without a
 * `sub`. Any other token is a user's and needs a `sub` that is a user id; an `anon` key (Supabase's
 * public key, role anon) acts for nobody, so it is refused as a token without a user.
 */
function callerOf(payload: JWTPayload, adminScope: string): Caller {
  const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
  if (payload.sub !== undefined && typeof payload.sub !== 'string') throw invalidToken('the token\'s "sub" is not a string');
  if (payload.role === 'service_role' || scopes.includes(adminScope)) return { kind: 'service', name: serviceName(payload, adminScope) };
  if (payload.role === 'anon') throw invalidToken('an anon key acts for no user: send a signed-in user\'s access token');
  if (payload.sub === undefined) throw invalidToken('the token has no "sub": only a service token may omit it');
  if (!USER_ID.test(payload.sub)) throw invalidToken('the token\'s "sub" is not a valid user id');
  return { kind: 'user', userId: payload.sub };
}

/**
 * A service token is named by its `sub`; without one, by what made it a service token and, when
 * present, its Supabase project (`ref`): two projects' service keys verified by one deployment then
 * keep apart their idempotency keys (a retry of one never replays the other's create) and cursors.
 */
function serviceName(payload: JWTPayload, adminScope: string): string {
  if (payload.sub !== undefined) return payload.sub;
  const by = payload.role === 'service_role' ? 'role:service_role' : `scope:${adminScope}`;
  return typeof payload.ref === 'string' ? `${by}@${payload.ref}` : by;
}

function describeFailure(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'the token is not valid yet';
    return `the token's "${error.claim}" claim is not accepted`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return 'the token is signed with an algorithm that is not accepted';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the token\'s signature does not verify';
  if (error instanceof errors.JWKSNoMatchingKey) return 'the token is signed with an unknown key';
  return 'the token is malformed';
}

function isKeyFetchFailure(error: unknown): boolean {
  return error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || (error instanceof TypeError && /fetch/i.test(error.message));
}

function invalidToken(description: string): AppError {
  return new AppError('unauthorized', `The bearer token is not valid: ${description}`, {
    headers: { 'WWW-Authenticate': `Bearer realm="chat-sessions", error="invalid_token", error_description="${description.replaceAll('"', "'")}"` },
  });
}

function invalidRequest(description: string): AppError {
  return new AppError('unauthorized', description, {
    headers: { 'WWW-Authenticate': `Bearer realm="chat-sessions", error="invalid_request", error_description="${description.replaceAll('"', "'")}"` },
  });
}
