package sdk

import (
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// validUTF8 replaces invalid UTF-8 in every string of m, nested messages,
// lists and maps included, with U+FFFD. Protocol Buffers refuse to send a
// string that is not UTF-8, and platforms do send such bytes (an SMS form
// with %FF, a hostile header): without this, one such message would fail
// every Deliver and be retried until the platform gave up on it.
func validUTF8(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			list := v.List()
			for i := 0; i < list.Len(); i++ {
				if fd.Kind() == protoreflect.StringKind {
					if s := list.Get(i).String(); !utf8.ValidString(s) {
						list.Set(i, protoreflect.ValueOfString(strings.ToValidUTF8(s, "\uFFFD")))
					}
				} else if fd.Message() != nil {
					validUTF8(list.Get(i).Message())
				}
			}
		case fd.IsMap():
			fixMap(fd, v.Map())
		case fd.Kind() == protoreflect.StringKind:
			if s := v.String(); !utf8.ValidString(s) {
				m.Set(fd, protoreflect.ValueOfString(strings.ToValidUTF8(s, "\uFFFD")))
			}
		case fd.Message() != nil:
			validUTF8(v.Message())
		}
		return true
	})
}

// fixMap fixes a map's values and keys; entries are changed after the
// walk, as a map must not change while it is ranged over.
func fixMap(fd protoreflect.FieldDescriptor, mp protoreflect.Map) {
	type entry struct {
		key protoreflect.MapKey
		val protoreflect.Value
	}
	stringKeys, stringValues := fd.MapKey().Kind() == protoreflect.StringKind, fd.MapValue().Kind() == protoreflect.StringKind
	var fixed []entry
	mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		if fd.MapValue().Message() != nil {
			validUTF8(v.Message())
		}
		badKey := stringKeys && !utf8.ValidString(k.String())
		badValue := stringValues && !utf8.ValidString(v.String())
		if badValue {
			v = protoreflect.ValueOfString(strings.ToValidUTF8(v.String(), "\uFFFD"))
		}
		if badKey || badValue {
			fixed = append(fixed, entry{k, v})
		}
		return true
	})
	for _, e := range fixed {
		if s := e.key.String(); stringKeys && !utf8.ValidString(s) {
			mp.Clear(e.key)
			e.key = protoreflect.ValueOfString(strings.ToValidUTF8(s, "\uFFFD")).MapKey()
		}
		mp.Set(e.key, e.val)
	}
}
