// Package sms is leconnect's SMS channel: one adapter for Twilio
// Programmable Messaging and for the Vonage (Nexmo) SMS API, written only
// against plugins/sdk. One conversation per consumer phone number per
// channel: sdk.Consumer.ID and Address.ChatID are the number in E.164.
//
// # Where to start reading
//
//  1. adapter.go: New, Describe (no typing, no read receipts, delivery
//     receipts yes), Configure, Start (opens the state), Close.
//  2. config.go: the config block and its validation (field errors, offline).
//  3. provider.go: the provider interface; twilio.go and vonage.go implement
//     it (webhook parameters and authentication, send, error classification:
//     the one place each provider's errors become sdk errors).
//  4. webhook.go: ServeHTTP: inbound messages (keywords STOP/START/HELP,
//     numbered choices, MMS media, Vonage concatenated parts), status
//     callbacks (receipts that never go backwards), and agent media.
//  5. send.go: agent messages → SMS/MMS (splitting, options, media URLs,
//     resumable multi-part sends, opt-out refusal).
//  6. text.go (GSM-7, splitting, options, keywords), media.go (signed,
//     expiring media URLs), state.go (what survives a restart).
//
// # Config
//
//	channels:
//	  - name: sms
//	    adapter: sms
//	    config:
//	      provider: twilio                       # or vonage
//	      account_sid: ${TWILIO_ACCOUNT_SID}     # twilio
//	      auth_token: ${TWILIO_AUTH_TOKEN}       # twilio; also verifies X-Twilio-Signature
//	      from: "+14155550100"                   # or messaging_service_sid: MG...
//	      # api_key / api_secret / webhook_token # vonage
//	      # api_base_url: https://api.twilio.com # https://rest.nexmo.com for vonage
//	      # public_url: ""                       # the URL set at the provider, if not the core's
//	      # max_text_length: 1600
//	      # media_url_ttl: 1h
//	      # help_text: ""
//	      # request_timeout: 30s
//
// At the provider, point the number's incoming-message webhook at
// <server.public_url>/channels/<name>/webhook (Vonage: add
// ?token=<webhook_token>, and the same for the delivery receipt URL, with
// /status before the query). Twilio status callbacks are requested per
// message and come to <webhook>/status.
package sms
