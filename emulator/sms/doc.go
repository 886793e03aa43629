// Package sms emulates the two SMS providers the SMS adapter speaks, for
// tests, benchmarks and the demo: the Twilio Messages API (Basic auth,
// Message JSON, error bodies and codes, 21610 after STOP) with inbound
// webhooks signed with X-Twilio-Signature, MMS media URLs and status
// callbacks (sometimes shuffled), and the Vonage SMS API (/sms/json,
// statuses in 200 answers) with inbound messages (long ones as
// concatenated parts) and one delivery receipt per part. A control API
// under /fake/sms/api/ (and Go methods with the same meaning) plays the
// phones and shows what they received.
//
// It follows shared/reference/channels.md §3-§4, never the adapter: where
// the reference is UNCONFIRMED the choice is listed in docs/emulator.md
// (SMS section).
//
// Where to start reading:
//   - emulator.go: Options, New, Handler (the routing), numbers, faults and
//     the read-side methods (Received, Outbound, Deliveries).
//   - twilio.go: Sign, POST .../Messages.json, media, inbound webhooks,
//     status callbacks.
//   - vonage.go: POST /sms/json, delivery receipts, inbound with parts.
//   - phone.go: PhoneSend (the phone side) and the keyword engine.
//   - control.go: the /fake/sms/api/ routes; command.go: RunCommand.
//
// Typical embedding in a test:
//
//	e, _ := sms.New(sms.Options{TimeScale: 0.01})
//	srv := httptest.NewServer(e.Handler())
//	e.SetBaseURL(srv.URL)
//	_ = e.AddNumber(sms.Number{Provider: sms.Twilio, Number: "+14155550100", WebhookURL: hook})
//	_, _ = e.PhoneSend("+14155552345", "+14155550100", "hello")
//	got, _ := e.WaitReceived(ctx, "+14155552345", 1)
package sms
