// @vonage/server-sdk against the SMS emulator's Vonage SMS API, and its
// signature check against the emulator's signed webhooks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Vonage } from '@vonage/server-sdk';
import { AlgorithmTypes, Auth } from '@vonage/auth';
import { control, env, waitFor } from './helpers.mjs';

const base = env('SMS_BASE');
const apiKey = env('VONAGE_API_KEY');
const apiSecret = env('VONAGE_API_SECRET');
const from = env('VONAGE_FROM');
const signatureSecret = env('VONAGE_SIGNATURE_SECRET');
const controlAPI = `${base}/fake/sms/api`;
const vonage = new Vonage(new Auth({ apiKey, apiSecret }), { restHost: base });

test('sms.send (JSON body, credentials in Basic auth)', async () => {
  const res = await vonage.sms.send({ to: '447700900001', from, text: 'Your parcel is on its way' });
  assert.equal(res.messageCount, '1');
  assert.equal(res.messages[0].status, '0');
  assert.ok(res.messages[0].messageId);
  const got = await waitFor('the phone to receive it', async () => {
    const list = await control(`${controlAPI}/phones/${encodeURIComponent('+447700900001')}/messages`, undefined, 'GET');
    return list.find((m) => m.text === 'Your parcel is on its way');
  });
  assert.ok(got);
});

test('sms.send errors: bad credentials, a bad number', async () => {
  const wrong = new Vonage(new Auth({ apiKey, apiSecret: 'wrong-secret-0000' }), { restHost: base });
  await assert.rejects(wrong.sms.send({ to: '447700900001', from, text: 'x' }),
    (err) => err.response?.messages?.[0]?.status === '4');
  await assert.rejects(vonage.sms.send({ to: '12', from, text: 'x' }),
    (err) => err.response?.messages?.[0]?.status === '3');
});

test('signed inbound webhooks pass sms.verifySignature', async () => {
  const seen = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const params = JSON.parse(body);
      seen.push({ params, valid: vonage.sms.verifySignature(params.sig, params, signatureSecret, AlgorithmTypes.sha256hmac) });
      res.writeHead(204);
      res.end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = server.address().port;
    await control(`${controlAPI}/numbers`, { provider: 'vonage', number: `+${from}`, webhook_url: `http://127.0.0.1:${port}/inbound` });
    await control(`${controlAPI}/phones/${encodeURIComponent('+447700900002')}/messages`, { to: `+${from}`, text: 'Where & when = now?' });
    await waitFor('the inbound webhook', () => seen.length > 0);
    assert.equal(seen[0].params.text, 'Where & when = now?');
    assert.ok(seen[0].params.sig && seen[0].params.timestamp, JSON.stringify(seen[0].params));
    assert.equal(seen[0].valid, true);
    const tampered = { ...seen[0].params, text: 'something else' };
    assert.equal(vonage.sms.verifySignature(tampered.sig, tampered, signatureSecret, AlgorithmTypes.sha256hmac), false);
  } finally {
    await new Promise((r) => server.close(r));
  }
});
