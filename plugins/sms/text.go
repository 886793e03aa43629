package sms

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// gsm7 is the GSM 03.38 basic set plus its extension table (§3.5): a text
// made only of these is sent as GSM-7, anything else switches it to UCS-2.
const gsm7 = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà" + "^{}\\[~]|€\f"

func isGSM7(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune(gsm7, r) {
			return false
		}
	}
	return true
}

// splitText cuts text into pieces of at most max characters, preferring a
// paragraph break, then a line break, then the end of a sentence, then a
// space, so each SMS reads on its own. Pieces are trimmed.
func splitText(text string, max int) []string {
	text = strings.TrimSpace(text)
	var out []string
	for utf8.RuneCountInString(text) > max {
		// Byte offset of the max-th rune: the longest allowed head.
		limit := len(text)
		n := 0
		for i := range text {
			if n == max {
				limit = i
				break
			}
			n++
		}
		head := text[:limit]
		cut := -1
		for _, sep := range []string{"\n\n", "\n", ". ", "! ", "? ", " "} {
			// A break in the first third would leave a stub of a message.
			if i := strings.LastIndex(head, sep); i > len(head)/3 {
				cut = i + len(sep)
				break
			}
		}
		if cut <= 0 {
			cut = limit
		}
		if piece := strings.TrimSpace(text[:cut]); piece != "" {
			out = append(out, piece)
		}
		text = strings.TrimSpace(text[cut:])
	}
	if text != "" {
		out = append(out, text)
	}
	return out
}

// withOptions renders choices as numbered lines under the text.
func withOptions(text string, choices []sdk.Choice) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(text))
	for i, c := range choices {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%d. %s", i+1, c.Text)
	}
	return b.String()
}

// pickChoice reads an answer to numbered options: the number, or the
// option's text (case-insensitive).
func pickChoice(answer string, choices []sdk.Choice) (sdk.Choice, bool) {
	a := strings.TrimSpace(strings.TrimRight(strings.TrimSpace(answer), ".)"))
	if n, err := strconv.Atoi(a); err == nil {
		if n >= 1 && n <= len(choices) {
			return choices[n-1], true
		}
		return sdk.Choice{}, false
	}
	for _, c := range choices {
		if strings.EqualFold(a, strings.TrimSpace(c.Text)) {
			return c, true
		}
	}
	return sdk.Choice{}, false
}

// Carrier keywords (§3.7): a single word, case-insensitive.
var (
	stopWords  = map[string]bool{"STOP": true, "STOPALL": true, "UNSUBSCRIBE": true, "CANCEL": true, "END": true, "QUIT": true}
	startWords = map[string]bool{"START": true, "YES": true, "UNSTOP": true}
	helpWords  = map[string]bool{"HELP": true, "INFO": true}
)

// keyword classifies a message as STOP, START, HELP or "". The provider's
// own classification (Twilio's OptOutType) wins when present.
func keyword(text, providerType string) string {
	switch providerType {
	case "STOP", "START", "HELP":
		return providerType
	}
	w := strings.ToUpper(strings.Trim(strings.TrimSpace(text), ".!"))
	switch {
	case stopWords[w]:
		return "STOP"
	case startWords[w]:
		return "START"
	case helpWords[w]:
		return "HELP"
	}
	return ""
}
