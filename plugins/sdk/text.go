package sdk

import "unicode/utf16"

// UTF16Len is the length of s in UTF-16 code units: how LiveEngage and
// Telegram count characters (an emoji outside the BMP counts 2).
func UTF16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}
