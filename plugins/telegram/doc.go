// Package telegram is leconnect's Telegram channel: an adapter between the
// Telegram Bot API and the leconnect core, written only against
// plugins/sdk, exactly as a third party would write one. It is also the
// reference adapter that docs/writing-an-adapter.md walks through, so the
// files are small and each does one job.
//
// # Where to start reading
//
//  1. adapter.go: New, Describe (what Telegram can do), Configure and Start
//     (webhook or polling), Health and Close. This is the lifecycle every
//     adapter has.
//  2. config.go: the channel's config block and its validation, which
//     reports every problem at once as sdk.FieldErrors and never touches
//     the network (`leconnect validate` runs it offline).
//  3. receive.go: handleUpdate, the one inbound path. Both modes end there:
//     webhook.go (ServeHTTP checks the secret header, then answers 200 only
//     after Deliver returned nil) and pollLoop (advances the getUpdates
//     offset only after Deliver returned nil). That ordering is what makes
//     "acknowledged" mean "stored".
//  4. inbound.go: Telegram updates → sdk.Event; files fetched with getFile.
//  5. send.go: sdk.OutboundMessage → sendMessage / sendPhoto /
//     sendDocument, text splitting, inline keyboards, idempotency.
//  6. typing.go, ratelimit.go, api.go (the Bot API client and classify, the
//     single place where Telegram errors become sdk errors).
//
// # Config
//
//	channels:
//	  - name: telegram
//	    adapter: telegram
//	    config:
//	      bot_token: ${TELEGRAM_BOT_TOKEN}      # required
//	      mode: webhook                         # or polling
//	      secret_token: ${TELEGRAM_SECRET}      # required in webhook mode
//	      # api_base_url: https://api.telegram.org
//	      # edited_messages: forward            # or ignore
//	      # start_text: ""                      # replaces "/start" for the agent
//	      # end_keywords: ["/end"]              # [] switches it off
//	      # end_on_block: true
//	      # poll_timeout: 30                    # seconds, polling mode
//	      # delete_webhook: true                # polling mode
//	      # max_connections: 40                 # webhook mode
//	      # per_chat_rate: 1                    # messages/s per chat
//	      # per_chat_burst: 3
//	      # global_rate: 30                     # messages/s for the bot
//	      # typing_interval: 4s
//	      # request_timeout: 30s
//
// # Receiving
//
// Webhook mode: Start calls setWebhook with the core's public webhook URL
// (server.public_url + /channels/<name>/webhook), secret_token and
// allowed_updates message, edited_message, callback_query, my_chat_member.
// Every request must carry X-Telegram-Bot-Api-Secret-Token (compared in
// constant time); otherwise 401 and nothing is delivered. The answer is
// 200 only after the core stored the event, else 503 and Telegram retries.
//
// Polling mode: Start checks the token with getMe, deletes a leftover
// webhook (delete_webhook), and long-polls getUpdates. A 409 Conflict (a
// webhook set, or a second poller on the same token) makes Health report
// the channel unhealthy with the reason, until a poll succeeds again.
//
// Event ids are the update_id, which Telegram keeps across its own retries,
// so the core's dedupe turns redelivery into exactly-once.
//
// What each update becomes:
//   - text: a Message with the text.
//   - photo (largest size), document, voice, audio, video, video note,
//     animation: a Message with one sdk.Media holding the bytes (getFile,
//     then the file URL) and the caption in Media.Caption. A file Telegram
//     will not hand over (over 20 MB for bots) becomes a line of text.
//   - sticker, location, contact: a short text such as "[location] 52.5, 13.4".
//   - edited_message: with edited_messages: forward (default), a Message
//     marked Edited with the new text or caption; with ignore, nothing.
//   - callback_query (a press on an inline button): a Message whose Choice
//     is the button's value, then answerCallbackQuery to stop the spinner.
//   - /start (also "/start <payload>" from deep links): delivered as a
//     Message, because it is how a Telegram user opens a conversation. Its
//     text is "/start", or start_text when set; a deep-link payload is kept
//     as the consumer attribute start_payload. Other /commands are ordinary
//     text for the agent.
//   - a text equal to one of end_keywords (default "/end"): an
//     EndConversation event, so LiveEngage closes the conversation.
//   - my_chat_member with status "kicked" in a private chat (the user
//     blocked the bot): an EndConversation event (end_on_block).
//   - anything else (channel posts, service messages, bots): acknowledged
//     and dropped.
//
// # Sending
//
// Texts are sent without parse_mode (agents write plain text) and split at
// 4096 UTF-16 units on line, then word boundaries. Media go first, by
// multipart upload: images by sendPhoto (up to 10 MB), everything else by
// sendDocument; the text is the caption when it fits 1024 units, else it
// follows as separate messages. Structured-content buttons (one per row)
// and quick replies (three per row) become an inline keyboard on the last
// message (a card of buttons only goes under a "👇": Telegram sends no
// keyboard without a text); callback_data is the choice id (the core's ids
// fit its 64 bytes, and a press is reported with the element's click
// metadata), or a hash for longer ids.
//
// Telegram's rules become the SDK's errors in classify: 429 → sdk.RetryAfter
// (retry_after); 403 → sdk.Permanent, and for "bot was blocked by the
// user" an EndConversation event is also delivered so the conversation
// closes in LiveEngage with that reason; 400 → sdk.Permanent; 401/404 (bad
// token) → sdk.NotConnected; the rest is transient. Sends wait for a token
// from a per-chat (1/s, burst 3) and a global (30/s) bucket, bounded by
// the caller's context; a wait longer than request_timeout is not started
// and becomes sdk.RetryAfter instead. The SDK's send journal answers a
// Send repeated after a restart; within the process, the adapter also
// remembers which parts of a split message went out, so a Send retried
// with the same IdempotencyKey after a partial failure resumes instead of
// repeating the first parts.
//
// Typing: SetTyping(true) calls sendChatAction "typing" and repeats it every
// typing_interval (Telegram shows it at most 5 s) until SetTyping(false),
// a Send to the chat, or two minutes. Telegram bots get no read receipts,
// so Describe says ReadReceipts: false and the core never calls MarkRead.
package telegram
