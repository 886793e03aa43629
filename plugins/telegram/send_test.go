package telegram

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/leconnect/leconnect/plugins/sdk"
)

func TestSplitText(t *testing.T) {
	line := strings.Repeat("x", 30)
	tests := []struct {
		name  string
		in    string
		limit int
		want  []string
	}{
		{"fits", "hello world", 20, []string{"hello world"}},
		{"exactly the limit", strings.Repeat("a", 20), 20, []string{strings.Repeat("a", 20)}},
		{"prefers the line break", "first line\nsecond line here", 20, []string{"first line", "second line here"}},
		{"then the last space", "aaaa bbbb cccc dddd eeee", 12, []string{"aaaa bbbb", "cccc dddd", "eeee"}},
		{"hard cut for a long word", strings.Repeat("z", 25), 10, []string{strings.Repeat("z", 10), strings.Repeat("z", 10), strings.Repeat("z", 5)}},
		{"emoji count two UTF-16 units and are never cut", strings.Repeat("😀", 6), 5, []string{"😀😀", "😀😀", "😀😀"}},
		{"blank chunks are skipped", "abc\n\n\n\n\n\n\ndef", 4, []string{"abc", "def"}},
		{"empty", "", 10, nil},
		{"lines of 30 at 4096", strings.Repeat(line+"\n", 300), 4096, nil}, // checked below
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := splitText(tt.in, tt.limit)
			for _, c := range got {
				if sdk.UTF16Len(c) > tt.limit {
					t.Errorf("chunk of %d UTF-16 units over the limit %d", sdk.UTF16Len(c), tt.limit)
				}
				if !utf8.ValidString(c) {
					t.Errorf("chunk %q is not valid UTF-8", c)
				}
			}
			if tt.want == nil && tt.in != "" {
				// Long input: no line may be cut and nothing may be lost.
				if strings.Join(got, "\n") != strings.TrimRight(tt.in, "\n") {
					t.Fatalf("rejoined chunks differ from the input")
				}
				if len(got) < 2 {
					t.Fatalf("got %d chunks; want the text split", len(got))
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("splitText = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	a := New()
	img := &sdk.Media{Kind: sdk.MediaImage, ContentType: "image/png", Data: []byte("png")}
	long := strings.Repeat("word ", 1000) // 5000 characters
	tests := []struct {
		name        string
		msg         sdk.OutboundMessage
		wantParts   int
		wantCaption string // of a media first part
		keyboardOn  int    // index of the part with the keyboard, -1 for none
		wantRows    [][]string
	}{
		{"text", sdk.OutboundMessage{Text: "hi"}, 1, "", -1, nil},
		{"long text", sdk.OutboundMessage{Text: long}, 2, "", -1, nil},
		{"media with caption", sdk.OutboundMessage{Text: "look", Media: img}, 1, "look", -1, nil},
		{"media with a text too long for a caption", sdk.OutboundMessage{Text: long, Media: img}, 3, "", -1, nil},
		{"keyboard on the last part", sdk.OutboundMessage{Text: long,
			Buttons:      []sdk.Choice{{ID: "b1", Text: "Track order"}},
			QuickReplies: []sdk.Choice{{ID: "1"}, {ID: "2", Text: "Two"}, {ID: "3", Text: "Three"}, {ID: "4", Text: "Four"}}},
			2, "", 1, [][]string{{"Track order"}, {"1", "Two", "Three"}, {"Four"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, err := a.plan(tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			if len(parts) != tt.wantParts {
				t.Fatalf("%d parts, want %d", len(parts), tt.wantParts)
			}
			if parts[0].media != nil && parts[0].text != tt.wantCaption {
				t.Errorf("caption %q, want %q", parts[0].text, tt.wantCaption)
			}
			for i, p := range parts {
				if (p.keyboard != nil) != (i == tt.keyboardOn) {
					t.Errorf("part %d keyboard = %v", i, p.keyboard != nil)
				}
			}
			if tt.keyboardOn >= 0 {
				var rows [][]string
				for _, r := range parts[tt.keyboardOn].keyboard.InlineKeyboard {
					var labels []string
					for _, b := range r {
						labels = append(labels, b.Text)
					}
					rows = append(rows, labels)
				}
				if !reflect.DeepEqual(rows, tt.wantRows) {
					t.Errorf("keyboard rows %v, want %v", rows, tt.wantRows)
				}
			}
		})
	}
	if _, err := a.plan(sdk.OutboundMessage{}); err == nil {
		t.Error("empty message planned; want an error")
	}
}

// Choice ids longer than callback_data's 64 bytes travel as a hash and
// come back as the original id.
func TestChoiceStore(t *testing.T) {
	s := newChoiceStore(2)
	longID := strings.Repeat("payload-", 20)
	tests := []struct {
		choice sdk.Choice
		want   sdk.Choice
	}{
		{sdk.Choice{ID: "yes", Text: "Yes"}, sdk.Choice{ID: "yes", Text: "Yes"}},
		{sdk.Choice{ID: longID, Text: "Long"}, sdk.Choice{ID: longID, Text: "Long"}},
		{sdk.Choice{ID: "h:looks-like-a-hash", Text: "H"}, sdk.Choice{ID: "h:looks-like-a-hash", Text: "H"}},
	}
	for _, tt := range tests {
		data := s.data(tt.choice)
		if len(data) > maxCallbackData {
			t.Errorf("callback_data %q over 64 bytes", data)
		}
		if got := s.resolve(data, tt.choice.Text); got != tt.want {
			t.Errorf("resolve(data(%q)) = %+v, want %+v", tt.choice.ID, got, tt.want)
		}
	}
	if got := s.resolve("h:unknown", "Label"); got != (sdk.Choice{ID: "Label", Text: "Label"}) {
		t.Errorf("unknown hash resolved to %+v; want the label", got)
	}
}
