// @slack/web-api and @slack/bolt against the Slack emulator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebClient, ErrorCode } from '@slack/web-api';
import bolt from '@slack/bolt';
import { control, env, waitFor } from './helpers.mjs';

const slackApiUrl = env('SLACK_API_URL');
const base = env('SLACK_BASE');
const token = env('SLACK_BOT_TOKEN');
const signingSecret = env('SLACK_SIGNING_SECRET');
const user = env('SLACK_USER');
const controlAPI = `${base}/fake/slack/api`;
const client = new WebClient(token, { slackApiUrl, rejectRateLimitedCalls: true });

test('auth.test', async () => {
  const res = await client.auth.test();
  assert.equal(res.ok, true);
  assert.ok(res.user_id);
});

test('conversations.open, then chat.postMessage with buttons to the DM', async () => {
  const open = await client.conversations.open({ users: user });
  assert.match(open.channel.id, /^D/);
  const res = await client.chat.postMessage({
    channel: open.channel.id, text: 'Pick one',
    blocks: [{ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Yes' }, value: 'yes', action_id: 'a1' }] }],
  });
  assert.equal(res.ok, true);
  assert.equal(res.channel, open.channel.id);
  assert.ok(res.ts);
});

test('users.info gives the names agents see', async () => {
  const res = await client.users.info({ user, include_locale: true });
  assert.equal(res.user.id, user);
  assert.equal(res.user.profile.real_name, 'Ann Lee');
  assert.equal(res.user.profile.email, 'ann@example.com');
});

test('filesUploadV2, then files.info for url_private, then the download', async () => {
  const { channel } = await client.conversations.open({ users: user });
  const content = Buffer.from('the invoice, in full');
  const up = await client.filesUploadV2({ channel_id: channel.id, file: content, filename: 'invoice.txt', title: 'Invoice' });
  const id = up.files[0].files[0].id;
  const info = await client.files.info({ file: id });
  assert.equal(info.file.name, 'invoice.txt');
  const res = await fetch(info.file.url_private, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), content);
});

test('errors: ok:false as a platform error, 429 as a rate-limited error', async () => {
  await assert.rejects(client.chat.postMessage({ channel: 'C0NOWHERE', text: 'x' }),
    (err) => err.code === ErrorCode.PlatformError && err.data.error === 'channel_not_found');
  await assert.rejects(client.users.info({ user: 'U0NOBODY' }),
    (err) => err.code === ErrorCode.PlatformError && err.data.error === 'user_not_found');
  await control(`${controlAPI}/faults`, { method: 'chat.postMessage', error: 'ratelimited', retry_after: 2, count: 1 });
  const { channel } = await client.conversations.open({ users: user });
  await assert.rejects(client.chat.postMessage({ channel: channel.id, text: 'too fast' }),
    (err) => err.code === ErrorCode.RateLimitedError && err.retryAfter === 2);
});

test('a Bolt app receives signed events and answers', async () => {
  const app = new bolt.App({ token, signingSecret, clientOptions: { slackApiUrl } });
  app.message('hello', async ({ message, say }) => {
    await say(`hi <@${message.user}>`);
  });
  const server = await app.start(0);
  try {
    const port = server.address().port;
    await control(`${controlAPI}/request-url`, { url: `http://127.0.0.1:${port}/slack/events` });
    const sent = await control(`${controlAPI}/messages`, { user, text: 'hello there' });
    const dm = (await client.conversations.open({ users: user })).channel.id;
    const answer = await waitFor('the Bolt app to answer', async () => {
      const posted = await control(`${controlAPI}/channels/${dm}/posted`, undefined, 'GET');
      return posted.find((m) => m.text === `hi <@${user}>`);
    });
    assert.ok(answer, JSON.stringify(sent));
    const deliveries = await control(`${controlAPI}/deliveries`, undefined, 'GET');
    assert.ok(deliveries.some((d) => d.acked), `no event acknowledged by Bolt: ${JSON.stringify(deliveries)}`);
  } finally {
    await app.stop();
  }
});
