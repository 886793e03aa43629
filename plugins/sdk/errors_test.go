package sdk

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The vocabulary must survive toStatus → wire → fromStatus intact.
func TestErrorsCrossTheBoundary(t *testing.T) {
	base := errors.New("chat 42: too many requests")
	tests := []struct {
		name      string
		in        error
		wantKind  ErrorKind
		wantDelay time.Duration
		wantCode  codes.Code
		wantIs    error
	}{
		{"retry after", RetryAfter(3*time.Second, base), KindRetryAfter, 3 * time.Second, codes.Unavailable, nil},
		{"wrapped retry after", errors.Join(errors.New("send"), RetryAfter(time.Second, base)), KindRetryAfter, time.Second, codes.Unavailable, nil},
		{"permanent", Permanent(base), KindPermanent, 0, codes.FailedPrecondition, nil},
		{"not connected", NotConnected(base), KindNotConnected, 0, codes.Unavailable, nil},
		{"plain", base, KindTransient, 0, codes.Unknown, nil},
		{"canceled", context.Canceled, KindTransient, 0, codes.Canceled, context.Canceled},
		{"deadline", context.DeadlineExceeded, KindTransient, 0, codes.DeadlineExceeded, context.DeadlineExceeded},
		{"invalid argument from elsewhere", status.Error(codes.InvalidArgument, "bad"), KindPermanent, 0, codes.InvalidArgument, nil},
		{"transport failure", status.Error(codes.Unavailable, "connection refused"), KindNotConnected, 0, codes.Unavailable, nil},
		{"over a size bound", Permanent(&LimitError{Limit: LimitTextChars, Max: 5000, Got: 9000, Event: "e1"}), KindPermanent, 0, codes.ResourceExhausted, nil},
		{"over the bytes in flight", RetryAfter(time.Second, &LimitError{Limit: LimitInFlightBytes, Max: 100, Got: 80}), KindRetryAfter, time.Second, codes.ResourceExhausted, nil},
		{"gRPC's own size check", status.Error(codes.ResourceExhausted, "grpc: received message larger than max (52428850 vs. 33554432)"), KindPermanent, 0, codes.ResourceExhausted, nil},
		{"cannot resolve", fmt.Errorf("vonage: %w", ErrCannotResolve), KindTransient, 0, codes.FailedPrecondition, ErrCannotResolve},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire := toStatus(tt.in)
			if got := status.Code(wire); got != tt.wantCode {
				t.Fatalf("code = %v, want %v", got, tt.wantCode)
			}
			back := fromStatus(wire)
			if got := KindOf(back); got != tt.wantKind {
				t.Fatalf("kind = %v, want %v (err %v)", got, tt.wantKind, back)
			}
			if d, _ := RetryDelay(back); d != tt.wantDelay {
				t.Fatalf("delay = %v, want %v", d, tt.wantDelay)
			}
			if tt.wantIs != nil && !errors.Is(back, tt.wantIs) {
				t.Fatalf("errors.Is(%v, %v) = false", back, tt.wantIs)
			}
			if back.Error() == "" {
				t.Fatal("message lost")
			}
		})
	}
	if toStatus(nil) != nil || fromStatus(nil) != nil {
		t.Fatal("nil must stay nil")
	}
}

// A refusal over a bound reaches the adapter as a *LimitError with its
// fields, whichever side of gRPC refused it.
func TestLimitErrorsKeepTheirFields(t *testing.T) {
	tests := []struct {
		name string
		in   error
		want LimitError
	}{
		{"core", Permanent(&LimitError{Limit: LimitMediaBytes, Max: 16, Got: 20, Event: "ev-1"}), LimitError{Limit: LimitMediaBytes, Max: 16, Got: 20, Event: "ev-1"}},
		{"busy", RetryAfter(time.Second, &LimitError{Limit: LimitInFlightBytes, Max: 32, Got: 30}), LimitError{Limit: LimitInFlightBytes, Max: 32, Got: 30}},
		{"grpc", status.Error(codes.ResourceExhausted, "grpc: received message larger than max (52428850 vs. 33554432)"), LimitError{Limit: LimitRequestBytes, Max: 33554432, Got: 52428850}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var le *LimitError
			if back := fromStatus(toStatus(tt.in)); !errors.As(back, &le) || *le != tt.want {
				t.Fatalf("got %#v from %v; want %#v", le, back, tt.want)
			}
		})
	}
	// Anything else ResourceExhausted stays an ordinary error.
	var le *LimitError
	if errors.As(fromStatus(status.Error(codes.ResourceExhausted, "quota")), &le) {
		t.Fatal("an unrelated ResourceExhausted became a LimitError")
	}
}

func TestConfigDecodeIsStrict(t *testing.T) {
	type cfg struct {
		Token string `json:"token"`
		Limit int    `json:"limit"`
	}
	tests := []struct {
		name       string
		json       string
		wantFields []string
	}{
		{"valid", `{"token":"x","limit":3}`, nil},
		{"empty", ``, nil},
		{"unknown keys", `{"token":"x","tokn":"y","zzz":1}`, []string{"tokn", "zzz"}},
		{"wrong type", `{"limit":"three"}`, []string{"limit"}},
		{"not an object", `[1,2]`, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c cfg
			err := NewConfig([]byte(tt.json)).Decode(&c)
			var fe FieldErrors
			if len(tt.wantFields) == 0 {
				if err != nil {
					t.Fatalf("Decode = %v", err)
				}
				return
			}
			if !errors.As(err, &fe) {
				t.Fatalf("Decode = %v; want FieldErrors", err)
			}
			var got []string
			for _, e := range fe {
				got = append(got, e.Field)
				if e.Message == "" {
					t.Errorf("no message for %q", e.Field)
				}
			}
			if len(got) != len(tt.wantFields) {
				t.Fatalf("fields = %q, want %q", got, tt.wantFields)
			}
			for i := range got {
				if got[i] != tt.wantFields[i] {
					t.Fatalf("fields = %q, want %q", got, tt.wantFields)
				}
			}
		})
	}
}

func TestEventValidate(t *testing.T) {
	ok := Event{ID: "1", Address: Address{ChatID: "c"}, Consumer: Consumer{ID: "u"}, Message: &Message{Text: "hi"}}
	tests := []struct {
		name  string
		edit  func(*Event)
		valid bool
	}{
		{"valid", func(*Event) {}, true},
		{"no id", func(e *Event) { e.ID = "" }, false},
		{"no consumer", func(e *Event) { e.Consumer.ID = "" }, false},
		{"no chat", func(e *Event) { e.Address.ChatID = "" }, false},
		{"two kinds", func(e *Event) { e.Typing = &Typing{Active: true} }, false},
		{"no kind", func(e *Event) { e.Message = nil }, false},
		{"empty message", func(e *Event) { e.Message = &Message{} }, false},
		{"receipt without ids", func(e *Event) { e.Message = nil; e.Receipt = &Receipt{Status: ReceiptRead} }, false},
		{"receipt", func(e *Event) { e.Message = nil; e.Receipt = &Receipt{Status: ReceiptRead, MessageIDs: []string{"m"}} }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ok
			tt.edit(&e)
			if err := e.Validate(); (err == nil) != tt.valid {
				t.Fatalf("Validate() = %v, want valid=%v", err, tt.valid)
			}
		})
	}
}

func TestFieldErrorsDuration(t *testing.T) {
	var fe FieldErrors
	def, lo, hi := 4*time.Second, time.Second, time.Minute
	for _, tt := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{{"", def, false}, {"2s", 2 * time.Second, false}, {"soon", def, true}, {"500ms", def, true}, {"2h", def, true}} {
		before := len(fe)
		if got := fe.Duration("k", tt.in, def, lo, hi); got != tt.want || (len(fe) > before) != tt.bad {
			t.Errorf("Duration(%q) = %v with %d new problems; want %v, problem %v", tt.in, got, len(fe)-before, tt.want, tt.bad)
		}
	}
}
