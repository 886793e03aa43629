// twilio-node against the SMS emulator's Twilio API, and its webhook
// signatures against the emulator's signing and our adapter's checking.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import twilio from 'twilio';
import { control, env, waitFor } from './helpers.mjs';

const base = env('SMS_BASE');
const accountSid = env('TWILIO_ACCOUNT_SID');
const authToken = env('TWILIO_AUTH_TOKEN');
const from = env('TWILIO_FROM');
const phone = env('TWILIO_PHONE');
const adapterWebhook = env('LECONNECT_SMS_WEBHOOK');
const controlAPI = `${base}/fake/sms/api`;

// twilio-node has no API-root option: its documented way in is a custom
// httpClient, which here sends api.twilio.com's requests to the emulator.
class EmulatorRequestClient extends twilio.RequestClient {
  request(opts) {
    return super.request({ ...opts, uri: opts.uri.replace(/^https:\/\/api\.twilio\.com/, base) });
  }
}
const client = twilio(accountSid, authToken, { httpClient: new EmulatorRequestClient() });

test('messages.create, then fetch until delivered', async () => {
  const m = await client.messages.create({ to: phone, from, body: 'Your parcel is on its way' });
  assert.match(m.sid, /^SM[0-9a-f]{32}$/);
  assert.equal(m.status, 'queued');
  const done = await waitFor('delivered', async () => {
    const f = await client.messages(m.sid).fetch();
    return f.status === 'delivered' && f;
  });
  assert.equal(done.body, 'Your parcel is on its way');
  assert.equal(done.direction, 'outbound-api');
});

test('messages.list with a page size, and paging', async () => {
  for (const body of ['one', 'two', 'three']) await client.messages.create({ to: phone, from, body });
  const listed = await client.messages.list({ to: phone, limit: 5, pageSize: 2 });
  assert.equal(listed.length, 4);
  assert.deepEqual(listed.slice(0, 3).map((m) => m.body), ['three', 'two', 'one']);
  const page = await client.messages.page({ to: phone, pageSize: 2 });
  assert.equal(page.instances.length, 2);
  const next = await page.nextPage();
  assert.equal(next.instances.length, 2);
});

test('errors carry Twilio codes: 20404, 21211, 20003', async () => {
  await assert.rejects(client.messages('SM00000000000000000000000000000000').fetch(),
    (err) => err.status === 404 && err.code === 20404 && /was not found/.test(err.message));
  await assert.rejects(client.messages.create({ to: '12', from, body: 'x' }),
    (err) => err.status === 400 && err.code === 21211);
  const wrong = twilio(accountSid, 'not-the-token', { httpClient: new EmulatorRequestClient() });
  await assert.rejects(wrong.messages.list({ limit: 1 }), (err) => err.status === 401 && err.code === 20003);
});

test('a rate limit: 429 with code 20429', async () => {
  await control(`${controlAPI}/faults`, { provider: 'twilio', http_status: 429, code: '20429', message: 'Too Many Requests', retry_after: 1, count: 1 });
  await assert.rejects(client.messages.create({ to: phone, from, body: 'too fast' }),
    (err) => err.status === 429 && err.code === 20429);
  const m = await client.messages.create({ to: phone, from, body: 'after the wait' });
  assert.equal(m.status, 'queued');
});

test('inbound webhooks are signed as twilio.validateRequest expects', async () => {
  const seen = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const params = Object.fromEntries(new URLSearchParams(body));
      const url = `http://127.0.0.1:${server.address().port}${req.url}`;
      seen.push({ valid: twilio.validateRequest(authToken, req.headers['x-twilio-signature'], url, params), params });
      res.writeHead(200, { 'Content-Type': 'text/xml' });
      res.end(new twilio.twiml.MessagingResponse().toString());
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = server.address().port;
    await control(`${controlAPI}/numbers`, { provider: 'twilio', number: from, webhook_url: `http://127.0.0.1:${port}/sms?channel=a` });
    await control(`${controlAPI}/phones/${encodeURIComponent(phone)}/messages`, { to: from, text: 'Where is my parcel?' });
    await waitFor('the inbound webhook', () => seen.length > 0);
    assert.equal(seen[0].valid, true);
    assert.equal(seen[0].params.Body, 'Where is my parcel?');
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('our adapter accepts webhooks twilio-node signs, repeated parameters included', async () => {
  const post = async (params, signature) => {
    const res = await fetch(adapterWebhook, {
      method: 'POST', body: params,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': signature },
    });
    await res.text();
    return res.status;
  };
  const inbound = (sid) => new URLSearchParams([
    ['MessageSid', sid], ['SmsMessageSid', sid], ['AccountSid', accountSid], ['From', phone], ['To', from],
    ['Body', 'signed by twilio-node'], ['NumMedia', '0'], ['ApiVersion', '2010-04-01'],
  ]);
  const asObject = (p) => {
    const o = {};
    for (const [k, v] of p) o[k] = k in o ? [].concat(o[k], v) : v;
    return o;
  };
  const plain = inbound('SM11111111111111111111111111111111');
  assert.equal(await post(plain, twilio.getExpectedTwilioSignature(authToken, adapterWebhook, asObject(plain))), 200);

  const repeated = inbound('SM22222222222222222222222222222222');
  repeated.append('Tag', 'b');
  repeated.append('Tag', 'a');
  repeated.append('Tag', 'b');
  assert.equal(await post(repeated, twilio.getExpectedTwilioSignature(authToken, adapterWebhook, asObject(repeated))), 200);

  assert.equal(await post(inbound('SM33333333333333333333333333333333'), 'bm90IGEgc2lnbmF0dXJl'), 403);
});
