// Optional bearer-token auth: routes whose config has `auth: true` need `Authorization: Bearer <token>`.
// /health and static files stay open (load balancers and browsers loading the demo page send no token).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from './types.ts';

const CHALLENGE = { 'www-authenticate': 'Bearer realm="deberta"' };

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Compares in constant time (hashing first, so lengths do not leak either). */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** An onRequest hook that throws 401 unless the route is open or the request carries the token. */
export function bearerAuth(token: string) {
  const expected = token;
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const config = request.routeOptions.config as { auth?: boolean } | undefined;
    if (!config?.auth) return;
    const header = request.headers.authorization;
    if (!header) throw new HttpError(401, 'missing bearer token: send "Authorization: Bearer <token>"', CHALLENGE);
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw new HttpError(401, 'malformed Authorization header: expected "Bearer <token>"', CHALLENGE);
    if (!tokenMatches(m[1]!, expected)) throw new HttpError(401, 'invalid bearer token', CHALLENGE);
  };
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route needs the bearer token (when the server has one). */
    auth?: boolean;
  }
}
