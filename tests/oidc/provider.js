/**
 * Real OpenID Connect providers for the sign-in tests: oidc-provider (OpenID Certified),
 * one issuer per port, each with one confidential client, its development login and
 * consent pages, and PKCE required (a client that sends no S256 challenge is refused).
 *
 *   node provider.js '{"ports": [p1, p2], "client_id": ..., "client_secret": ...,
 *                      "redirect_uris": [...]}'
 *
 * Any login and password sign in as the account named by the login; its claims are a
 * name and a picture. Prints "ready <issuer> ..." once every issuer listens.
 *
 * Codes live in a store of our own so that a test can spoil the one it is about to see
 * redeemed: POST /__test/codes?action=expire|consume|nonce (the provider itself then
 * refuses it, or signs an ID token with the wrong nonce). Nothing else is test-only.
 */
import Provider from 'oidc-provider';

const settings = JSON.parse(process.argv[2]);

/** An adapter class whose entries live in `stores` (model name -> Map). */
function adapterFor(stores) {
  return class TestAdapter {
    constructor(name) {
      this.name = name;
      if (!stores.has(name)) stores.set(name, new Map());
      this.entries = stores.get(name);
    }

    async upsert(id, payload, expiresIn) {
      const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : Infinity;
      this.entries.set(id, { payload: { ...payload }, expiresAt });
    }

    async find(id) {
      const entry = this.entries.get(id);
      if (!entry || entry.expiresAt < Date.now()) return undefined;
      return { ...entry.payload };
    }

    async findByUid(uid) {
      for (const [id, entry] of this.entries) if (entry.payload.uid === uid) return this.find(id);
      return undefined;
    }

    async findByUserCode(userCode) {
      for (const [id, entry] of this.entries) {
        if (entry.payload.userCode === userCode) return this.find(id);
      }
      return undefined;
    }

    async consume(id) {
      const entry = this.entries.get(id);
      if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id) {
      this.entries.delete(id);
    }

    async revokeByGrantId(grantId) {
      for (const [id, entry] of this.entries) {
        if (entry.payload.grantId === grantId) this.entries.delete(id);
      }
    }
  };
}

/** What the test hook does to every outstanding authorization code. */
const SPOIL = {
  expire(entry) {
    entry.payload.exp = Math.floor(Date.now() / 1000) - 60;
    entry.expiresAt = Date.now() - 1000;
  },
  consume(entry) { entry.payload.consumed = Math.floor(Date.now() / 1000); },
  nonce(entry) { entry.payload.nonce = 'not-the-nonce-the-client-sent'; },
};

function start(port) {
  const issuer = `http://127.0.0.1:${port}`;
  const stores = new Map();
  const provider = new Provider(issuer, {
    adapter: adapterFor(stores),
    clients: [{
      client_id: settings.client_id,
      client_secret: settings.client_secret,
      redirect_uris: settings.redirect_uris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
    }],
    pkce: { required: () => true },
    claims: { openid: ['sub'], profile: ['name', 'picture'] },
    cookies: { keys: [`test-cookie-key-${port}`] },
    findAccount: (ctx, id) => ({
      accountId: id,
      claims: () => ({
        sub: id,
        name: id.charAt(0).toUpperCase() + id.slice(1),
        picture: `https://avatars.rhystic.test/${encodeURIComponent(id)}.png`,
      }),
    }),
  });
  provider.use(async (ctx, next) => {
    if (ctx.path !== '/__test/codes' || ctx.method !== 'POST') return next();
    const spoil = SPOIL[ctx.query.action];
    if (!spoil) ctx.throw(400, 'action must be expire, consume or nonce');
    const codes = stores.get('AuthorizationCode') ?? new Map();
    for (const entry of codes.values()) spoil(entry);
    ctx.body = { spoiled: codes.size };
    return undefined;
  });
  return new Promise((resolve) => {
    provider.listen(port, '127.0.0.1', () => resolve(issuer));
  });
}

const issuers = await Promise.all(settings.ports.map(start));
console.log(`ready ${issuers.join(' ')}`);
