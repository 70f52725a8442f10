/**
 * `make token`: mints a development JWT signed with JWT_SECRET (from the environment or .env),
 * honouring JWT_ISSUER and JWT_AUDIENCE. SUB=<user id> (default dev-user), ROLE=service_role for
 * a service token, TTL=<seconds> (default 3600).
 */
import { SignJWT } from 'jose';
import { readEnvironment } from '../src/config.ts';

const env = readEnvironment();
const secret = env.JWT_SECRET;
if (!secret || secret.length < 32) {
  process.stderr.write('make token needs JWT_SECRET (at least 32 characters) in the environment or .env\n');
  process.exit(2);
}
const claims: Record<string, string> = { sub: env.SUB || 'dev-user' };
if (env.ROLE) claims.role = env.ROLE;
const jwt = new SignJWT(claims)
  .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
  .setIssuedAt()
  .setExpirationTime(`${Number(env.TTL || 3600)}s`);
if (env.JWT_ISSUER) jwt.setIssuer(env.JWT_ISSUER);
if (env.JWT_AUDIENCE) jwt.setAudience(env.JWT_AUDIENCE);
process.stdout.write(`${await jwt.sign(new TextEncoder().encode(secret))}\n`);
