// grammY against the Telegram emulator: what our adapter uses and what a
// user's own bot script would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Bot, GrammyError, InlineKeyboard, InputFile, webhookCallback } from 'grammy';
import { control, env, png, serveFiles, waitFor } from './helpers.mjs';

const apiRoot = env('TELEGRAM_API_ROOT');
const token = env('TELEGRAM_TOKEN');
const user = Number(env('TELEGRAM_USER'));
const bot = new Bot(token, { client: { apiRoot } });
const controlAPI = `${apiRoot}/fake/telegram/api`;

test('getMe', async () => {
  const me = await bot.api.getMe();
  assert.equal(me.is_bot, true);
  assert.ok(me.username);
});

test('sendMessage with buttons', async () => {
  const m = await bot.api.sendMessage(user, 'Pick one', {
    reply_markup: new InlineKeyboard().text('Yes', 'yes').text('No', 'no'),
  });
  assert.equal(m.text, 'Pick one');
  assert.equal(m.chat.id, user);
  assert.equal(m.reply_markup.inline_keyboard[0][1].callback_data, 'no');
});

test('sendPhoto by upload (grammY names the part with attach://) and getFile', async () => {
  const m = await bot.api.sendPhoto(user, new InputFile(png, 'dot.png'), { caption: 'a dot' });
  assert.equal(m.caption, 'a dot');
  const file = await bot.api.getFile(m.photo.at(-1).file_id);
  const res = await fetch(`${apiRoot}/file/bot${token}/${file.file_path}`);
  assert.equal(res.status, 200);
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), png);
});

test('sendDocument by upload', async () => {
  const m = await bot.api.sendDocument(user, new InputFile(Buffer.from('%PDF-1.4 terms'), 'terms.pdf'));
  assert.equal(m.document.file_name, 'terms.pdf');
});

test('sendPhoto and sendDocument by URL: the server downloads them', async () => {
  const files = await serveFiles({
    '/dot.png': { type: 'image/png', body: png },
    '/terms.pdf': { type: 'application/pdf', body: Buffer.from('%PDF-1.4 by url') },
  });
  try {
    const photo = await bot.api.sendPhoto(user, `${files.url}/dot.png`);
    assert.equal(photo.photo.at(-1).width, 1);
    const doc = await bot.api.sendDocument(user, `${files.url}/terms.pdf`);
    assert.equal(doc.document.mime_type, 'application/pdf');
    await assert.rejects(bot.api.sendPhoto(user, `${files.url}/missing.png`),
      (err) => err instanceof GrammyError && err.error_code === 400 && /failed to get HTTP URL content/.test(err.description));
  } finally {
    await files.close();
  }
});

test('receiving by polling', async () => {
  await control(`${controlAPI}/chats/${user}/messages`, { text: 'hello bot' });
  const updates = await bot.api.getUpdates({ timeout: 1 });
  const u = updates.find((u) => u.message?.text === 'hello bot');
  assert.ok(u, `no update with the message among ${JSON.stringify(updates)}`);
  assert.equal(u.message.from.id, user);
  await bot.api.getUpdates({ offset: u.update_id + 1, timeout: 0 });
});

test('errors: a chat that does not exist, and a rate limit', async () => {
  await assert.rejects(bot.api.sendMessage(42, 'nobody'),
    (err) => err instanceof GrammyError && err.error_code === 400 && err.description.startsWith('Bad Request: chat not found'));
  await control(`${controlAPI}/faults`, { method: 'sendMessage', error_code: 429, retry_after: 3, times: 1 });
  await assert.rejects(bot.api.sendMessage(user, 'too fast'),
    (err) => err instanceof GrammyError && err.error_code === 429 && err.parameters.retry_after === 3);
  const ok = await bot.api.sendMessage(user, 'after the wait');
  assert.equal(ok.text, 'after the wait');
});

test('receiving by webhook, grammY checking the secret token', async () => {
  const hooked = new Bot(token, { client: { apiRoot } });
  const got = [];
  hooked.on('message:text', async (ctx) => {
    got.push(ctx.message.text);
    await ctx.reply(`seen: ${ctx.message.text}`);
  });
  await hooked.init();
  const server = http.createServer(webhookCallback(hooked, 'http', { secretToken: 'contract-secret-1' }));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    await bot.api.setWebhook(`http://127.0.0.1:${server.address().port}/hook`, { secret_token: 'contract-secret-1' });
    await control(`${controlAPI}/chats/${user}/messages`, { text: 'by webhook' });
    await waitFor('the webhook update', () => got.includes('by webhook'));
    const sent = await waitFor('the reply', async () => {
      const list = await control(`${controlAPI}/chats/${user}/sent`, undefined, 'GET');
      return list.find((m) => m.text === 'seen: by webhook');
    });
    assert.ok(sent);
  } finally {
    await bot.api.deleteWebhook();
    await new Promise((r) => server.close(r));
  }
});
