package telegram

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
)

func loadUpdate(t *testing.T, name string) update {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var u update
	if err := json.Unmarshal(raw, &u); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return u
}

func defaultSettings(t *testing.T) settings {
	t.Helper()
	s, err := parseConfig(sdk.NewConfig([]byte(`{"bot_token":"1:x","mode":"polling"}`)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func echoChoice(data, text string) sdk.Choice { return sdk.Choice{ID: data, Text: text} }

var testConsumer = sdk.Consumer{
	ID: "1111111", DisplayName: "Test Firstname Test Lastname", FirstName: "Test Firstname", LastName: "Test Lastname",
	Username: "Testusername", Attributes: map[string]string{"telegram_username": "@Testusername"},
}

// The documented update payloads (shared/reference/samples/telegram, copied
// into testdata) mapped to events.
func TestToInboundSamples(t *testing.T) {
	withLocale := testConsumer
	withLocale.Locale = "en"
	addr := sdk.Address{ChatID: "1111111"}
	tests := []struct {
		file      string
		mutate    func(*settings)
		wantEvent sdk.Event
		wantFiles []fileRef
		wantCB    string
	}{
		{
			file: "telegram-update-entities.json",
			wantEvent: sdk.Event{ID: "10000", OccurredAt: time.Unix(1441645532, 0), Address: addr, Consumer: testConsumer,
				Message: &sdk.Message{ID: "1365", Text: "Bold and italics"}},
		},
		{
			// "/start" (here a reply) opens the conversation as a message.
			file: "telegram-update-reply.json",
			wantEvent: sdk.Event{ID: "10000", OccurredAt: time.Unix(1441645532, 0), Address: addr, Consumer: testConsumer,
				Message: &sdk.Message{ID: "1365", Text: "/start"}},
		},
		{
			file:   "telegram-update-reply.json",
			mutate: func(s *settings) { s.startText = "Hi, I started the bot" },
			wantEvent: sdk.Event{ID: "10000", OccurredAt: time.Unix(1441645532, 0), Address: addr, Consumer: testConsumer,
				Message: &sdk.Message{ID: "1365", Text: "Hi, I started the bot"}},
		},
		{
			// Old official example without file_unique_id: still fetched by file_id.
			file: "telegram-update-document.json",
			wantEvent: sdk.Event{ID: "10000", OccurredAt: time.Unix(1441645532, 0), Address: addr, Consumer: testConsumer,
				Message: &sdk.Message{ID: "1365"}},
			wantFiles: []fileRef{{fileID: "AwADBAADbXXXXXXXXXXXGBdhD2l6_XX", kind: sdk.MediaFile, fileName: "Testfile.pdf", contentType: "application/pdf"}},
		},
		{
			file: "telegram-update-voice.json",
			wantEvent: sdk.Event{ID: "10000", OccurredAt: time.Unix(1441645532, 0), Address: addr, Consumer: testConsumer,
				Message: &sdk.Message{ID: "1365"}},
			wantFiles: []fileRef{{fileID: "AwADBAADbXXXXXXXXXXXGBdhD2l6_XX", kind: sdk.MediaAudio, fileName: "voice.ogg", contentType: "audio/ogg"}},
		},
		{
			// The largest of the three sizes, listed last.
			file: "telegram-update-photo-caption.CONSTRUCTED.json",
			wantEvent: sdk.Event{ID: "10001", OccurredAt: time.Unix(1441645600, 0), Address: addr, Consumer: withLocale,
				Message: &sdk.Message{ID: "1366"}},
			wantFiles: []fileRef{{fileID: "AgACAgIAAxkBAAIBZ2Test-photo-large", kind: sdk.MediaImage, fileName: "photo_AQADlarge.jpg", contentType: "image/jpeg", caption: "release notes"}},
		},
		{
			file: "telegram-update-document-caption.CONSTRUCTED.json",
			wantEvent: sdk.Event{ID: "10002", OccurredAt: time.Unix(1441645700, 0), Address: addr, Consumer: withLocale,
				Message: &sdk.Message{ID: "1367"}},
			wantFiles: []fileRef{{fileID: "BQACAgIAAxkBAAIBaDoc-test", kind: sdk.MediaFile, fileName: "Testfile.pdf", contentType: "application/pdf", caption: "see attached"}},
		},
		{
			// The chosen option: the button's callback_data and its label.
			file: "telegram-update-callback-query-with-message.CONSTRUCTED.json",
			wantEvent: sdk.Event{ID: "10003", Address: addr, Consumer: withLocale,
				Message: &sdk.Message{ID: "callback:4382bfdwdsb323b2d9", Text: "Yes", Choice: &sdk.Choice{ID: "yes", Text: "Yes"}}},
			wantCB: "4382bfdwdsb323b2d9",
		},
	}
	for _, tt := range tests {
		name := tt.file
		if tt.mutate != nil {
			name += "/configured"
		}
		t.Run(name, func(t *testing.T) {
			s := defaultSettings(t)
			if tt.mutate != nil {
				tt.mutate(&s)
			}
			in, ok := toInbound(loadUpdate(t, tt.file), &s, echoChoice)
			if !ok {
				t.Fatal("update dropped; want an event")
			}
			if !reflect.DeepEqual(in.event, tt.wantEvent) {
				t.Errorf("event\n got %+v\n     %+v\nwant %+v\n     %+v", in.event, in.event.Message, tt.wantEvent, tt.wantEvent.Message)
			}
			if !reflect.DeepEqual(in.files, tt.wantFiles) {
				t.Errorf("files = %+v, want %+v", in.files, tt.wantFiles)
			}
			if in.callbackID != tt.wantCB {
				t.Errorf("callback id = %q, want %q", in.callbackID, tt.wantCB)
			}
		})
	}
}

// The getUpdates sample carries a photo and a callback query; each update
// becomes one event whose id is the update_id.
func TestToInboundGetUpdatesSample(t *testing.T) {
	raw, err := os.ReadFile("testdata/telegram-getUpdates-response.CONSTRUCTED.json")
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		OK     bool     `json:"ok"`
		Result []update `json:"result"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || !env.OK {
		t.Fatalf("decode: %v ok=%v", err, env.OK)
	}
	s := defaultSettings(t)
	var ids []string
	for _, u := range env.Result {
		in, ok := toInbound(u, &s, echoChoice)
		if !ok {
			t.Fatalf("update %d dropped", u.UpdateID)
		}
		if err := in.event.Validate(); len(in.files) == 0 && err != nil {
			t.Errorf("update %d: %v", u.UpdateID, err)
		}
		ids = append(ids, in.event.ID)
	}
	if want := []string{"10001", "10003"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("event ids = %v, want %v", ids, want)
	}
}

// Variants built from the samples: edits, end keywords, deep links, blocks,
// and what is deliberately dropped.
func TestToInboundVariants(t *testing.T) {
	base := loadUpdate(t, "telegram-update-entities.json")
	with := func(f func(u *update)) update {
		raw, _ := json.Marshal(base)
		var u update
		_ = json.Unmarshal(raw, &u)
		f(&u)
		return u
	}
	edited := with(func(u *update) {
		u.EditedMessage, u.Message = u.Message, nil
		u.EditedMessage.Text, u.EditedMessage.EditDate = "Bold and italics, fixed", 1441645999
	})
	tests := []struct {
		name   string
		u      update
		mutate func(*settings)
		check  func(t *testing.T, in inbound, ok bool)
	}{
		{"edited forwarded", edited, nil, func(t *testing.T, in inbound, ok bool) {
			if !ok || in.event.Message == nil || !in.event.Message.Edited || in.event.Message.Text != "Bold and italics, fixed" {
				t.Fatalf("got ok=%v %+v; want an edited message with the new text", ok, in.event.Message)
			}
			if !in.event.OccurredAt.Equal(time.Unix(1441645999, 0)) {
				t.Errorf("occurred at %v; want the edit date", in.event.OccurredAt)
			}
		}},
		{"edited ignored", edited, func(s *settings) { s.forwardEdits = false }, func(t *testing.T, in inbound, ok bool) {
			if ok {
				t.Fatalf("edited message delivered with edited_messages: ignore")
			}
		}},
		{"end keyword", with(func(u *update) { u.Message.Text = " /END " }), nil, func(t *testing.T, in inbound, ok bool) {
			if !ok || in.event.End == nil || in.event.Message != nil {
				t.Fatalf("got ok=%v end=%+v message=%+v; want an EndConversation", ok, in.event.End, in.event.Message)
			}
			if err := in.event.Validate(); err != nil {
				t.Fatal(err)
			}
		}},
		{"end keywords off", with(func(u *update) { u.Message.Text = "/end" }), func(s *settings) { s.endKeywords = nil }, func(t *testing.T, in inbound, ok bool) {
			if !ok || in.event.Message == nil || in.event.Message.Text != "/end" {
				t.Fatalf("got ok=%v %+v; want a plain message", ok, in.event.Message)
			}
		}},
		{"deep link payload", with(func(u *update) { u.Message.Text = "/start@connector_test_bot promo-42" }), nil, func(t *testing.T, in inbound, ok bool) {
			if !ok || in.event.Message.Text != "/start" || in.event.Consumer.Attributes["start_payload"] != "promo-42" {
				t.Fatalf("got %+v attrs %v; want /start with start_payload promo-42", in.event.Message, in.event.Consumer.Attributes)
			}
		}},
		{"other commands are text", with(func(u *update) { u.Message.Text = "/help" }), nil, func(t *testing.T, in inbound, ok bool) {
			if !ok || in.event.Message.Text != "/help" {
				t.Fatalf("got %+v; want text /help", in.event.Message)
			}
		}},
		{"blocked bot ends the conversation", update{UpdateID: 7, MyChatMember: &chatMemberUpdated{
			Chat: chat{ID: 1111111, Type: "private"}, From: user{ID: 1111111, FirstName: "T"}, Date: 1441645999,
			NewChatMember: chatMember{Status: "kicked"}}}, nil, func(t *testing.T, in inbound, ok bool) {
			if !ok || in.event.End == nil || in.event.ID != "7" {
				t.Fatalf("got ok=%v %+v; want EndConversation with id 7", ok, in.event)
			}
		}},
		{"unblock is dropped", update{UpdateID: 8, MyChatMember: &chatMemberUpdated{
			Chat: chat{ID: 1111111, Type: "private"}, From: user{ID: 1111111}, NewChatMember: chatMember{Status: "member"}}}, nil,
			func(t *testing.T, in inbound, ok bool) {
				if ok {
					t.Fatal("unblock delivered")
				}
			}},
		{"channel post without sender is dropped", with(func(u *update) { u.Message.From = nil }), nil, func(t *testing.T, in inbound, ok bool) {
			if ok {
				t.Fatal("message without a sender delivered")
			}
		}},
		{"service message is dropped", with(func(u *update) { u.Message.Text = "" }), nil, func(t *testing.T, in inbound, ok bool) {
			if ok {
				t.Fatal("empty message delivered")
			}
		}},
		{"location becomes text", with(func(u *update) {
			u.Message.Text = ""
			u.Message.Location = &location{Latitude: 52.52, Longitude: 13.405}
		}), nil,
			func(t *testing.T, in inbound, ok bool) {
				if !ok || in.event.Message.Text != "[location] 52.520000, 13.405000" {
					t.Fatalf("got %+v", in.event.Message)
				}
			}},
		{"forum topic is the thread", with(func(u *update) { u.Message.MessageThreadID = 99 }), nil, func(t *testing.T, in inbound, ok bool) {
			if !ok || in.event.Address.ThreadID != "99" {
				t.Fatalf("address = %+v; want thread 99", in.event.Address)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := defaultSettings(t)
			if tt.mutate != nil {
				tt.mutate(&s)
			}
			in, ok := toInbound(tt.u, &s, echoChoice)
			tt.check(t, in, ok)
		})
	}
}

// The error samples classified into the SDK's vocabulary.
func TestClassifySamples(t *testing.T) {
	tests := []struct {
		file      string
		wantKind  sdk.ErrorKind
		wantDelay time.Duration
		blocked   bool
	}{
		{"telegram-error-429.json", sdk.KindRetryAfter, 8 * time.Second, false},
		{"telegram-error-403-blocked.CONSTRUCTED.json", sdk.KindPermanent, 0, true},
		{"telegram-error-400-migrated.json", sdk.KindPermanent, 0, false},
		{"telegram-error-401.CONSTRUCTED.json", sdk.KindNotConnected, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var env response
			if err := json.Unmarshal(raw, &env); err != nil {
				t.Fatal(err)
			}
			ae := &APIError{Method: "sendMessage", Code: env.ErrorCode, Description: env.Description}
			if env.Parameters != nil {
				ae.RetryAfter = time.Duration(env.Parameters.RetryAfter) * time.Second
				ae.MigrateToChatID = env.Parameters.MigrateToChatID
			}
			got := classify(ae)
			if k := sdk.KindOf(got); k != tt.wantKind {
				t.Errorf("kind = %v, want %v", k, tt.wantKind)
			}
			if d, _ := sdk.RetryDelay(got); d != tt.wantDelay {
				t.Errorf("delay = %v, want %v", d, tt.wantDelay)
			}
			if isBlocked(ae) != tt.blocked {
				t.Errorf("isBlocked = %v, want %v", !tt.blocked, tt.blocked)
			}
		})
	}
}
