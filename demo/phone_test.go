package demo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	tgemu "github.com/leconnect/leconnect/emulator/telegram"
)

// botCall plays the bot: one Bot API call on the emulator.
func botCall(t *testing.T, base, method string, form url.Values) {
	t.Helper()
	res, err := http.PostForm(base+"/bot"+tgToken+"/"+method, form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s = %d", method, res.StatusCode)
	}
}

func TestTelegramPhoneTimeline(t *testing.T) {
	tg, err := tgemu.New(tgemu.Options{Token: tgToken, ChatRate: -1, GlobalRate: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(tg.Handler())
	t.Cleanup(func() { srv.Close(); tg.Close() })
	p := newTelegramPhone(tg)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	with := func(kv ...string) url.Values {
		v := url.Values{"chat_id": {"100001"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}

	v0 := p.Timeline().Version
	changed := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		changed <- p.WaitChange(wctx, v0)
	}()
	if err := p.Send(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	if err := <-changed; err != nil {
		t.Fatalf("WaitChange after a send: %v", err)
	}

	botCall(t, srv.URL, "sendChatAction", with("action", "typing"))
	if tl := p.Timeline(); tl.TypingUntil <= time.Now().UnixMilli() {
		t.Errorf("typing after sendChatAction: TypingUntil %d is not in the future", tl.TypingUntil)
	}
	botCall(t, srv.URL, "sendMessage", with("text", "Pick one",
		"reply_markup", `{"inline_keyboard":[[{"text":"Yes please","callback_data":"yes"},{"text":"No","callback_data":"no"}]]}`))
	if err := p.Press(ctx, "2", "yes"); err != nil {
		t.Fatal(err)
	}
	if err := p.Press(ctx, "not-a-number", "yes"); err == nil {
		t.Error("Press with a bad message id succeeded")
	}
	botCall(t, srv.URL, "sendMessage", with("text", "Done"))

	var got []string
	for _, m := range p.Timeline().Messages {
		s := m.From + ":" + m.Text
		for _, b := range m.Buttons {
			s += "[" + b.Text + "=" + b.Data + "]"
		}
		got = append(got, s)
	}
	want := "user:hello|business:Pick one[Yes please=yes][No=no]|user:Yes please|business:Done"
	if strings.Join(got, "|") != want {
		t.Errorf("timeline\n got %s\nwant %s", strings.Join(got, "|"), want)
	}
	if err := p.Send(ctx, " "); err == nil {
		t.Error("Send of blank text succeeded")
	}
	if n := len(p.Timeline().Messages); n != 4 {
		t.Errorf("a failed send left a bubble: %d messages", n)
	}
}
