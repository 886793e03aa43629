package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/leconnect/leconnect/internal/fuzzseed"
)

// fuzzSecret is every variable's value: no problem or error may show it.
const fuzzSecret = "s3cr3t-Value-7c1e"

func fuzzLookup(name string) (string, bool) {
	if strings.HasPrefix(name, "UNSET") {
		return "", false
	}
	return fuzzSecret, true
}

// FuzzParse: whatever the file holds, Parse answers a config or problems,
// never a panic; the same bytes give the same answer again; a problem
// names the file and never shows a variable's value.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/*.yaml", "../../connector.yaml.example"} {
		fuzzseed.Files(f, pattern, func(b []byte) { f.Add(b) })
	}
	opts := []Option{WithBuiltinAdapters("telegram", "slack", "sms")}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, warnings, err := Parse("fuzz.yaml", data, fuzzLookup, opts...)
		cfg2, warnings2, err2 := Parse("fuzz.yaml", data, fuzzLookup, opts...)
		if (err == nil) != (err2 == nil) || !reflect.DeepEqual(cfg, cfg2) || !reflect.DeepEqual(warnings, warnings2) {
			t.Fatalf("parsed twice differently: %v / %v", err, err2)
		}
		if err != nil {
			if err.Error() != err2.Error() {
				t.Fatalf("the same file gave other problems:\n%v\n%v", err, err2)
			}
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("problems that do not name the file: %v", err)
			}
			if strings.Contains(err.Error(), fuzzSecret) {
				t.Fatalf("a problem shows a variable's value: %v", err)
			}
		}
		for _, w := range warnings {
			if strings.Contains(w.Error(), fuzzSecret) {
				t.Fatalf("a warning shows a variable's value: %v", w)
			}
		}
		if err == nil && cfg == nil {
			t.Fatal("no config and no error")
		}
	})
}

// escapeDollars is how a literal text is written in the file: $ as $$.
func escapeDollars(s string) string { return strings.ReplaceAll(s, "$", "$$") }

// FuzzExpand: text without a reference is itself; literal text written
// with $$ escapes comes back as it was; ${NAME} between two such texts
// becomes exactly the variable's value between them.
func FuzzExpand(f *testing.F) {
	f.Add("plain", "p$ss${word}", "SECRET_1", "${NOT", "tail$$")
	f.Add("", "", "A", "$", "}")
	f.Fuzz(func(t *testing.T, before, value, name, after, raw string) {
		if !strings.Contains(raw, "$") {
			if e := expand(raw, fuzzLookup, false); e.value != raw || e.changed || len(e.problems) > 0 {
				t.Fatalf("text without $ changed: %+v", e)
			}
		}
		if !validVarName(name) {
			return
		}
		lookup := func(n string) (string, bool) { return value, n == name }
		s := escapeDollars(before) + "${" + name + "}" + escapeDollars(after)
		e := expand(s, lookup, false)
		if len(e.problems) > 0 || e.value != before+value+after {
			t.Fatalf("expand(%q) = %q, problems %q; want %q", s, e.value, e.problems, before+value+after)
		}
		if len(e.vars) != 1 || e.vars[0] != name {
			t.Fatalf("vars = %q; want [%s] (the value is secret)", e.vars, name)
		}
		if d := e.describe(); d != "the value of ${"+name+"}" {
			t.Fatalf("describe = %q; want the variable named, not its value", d)
		}
		if unset := expand(s, func(string) (string, bool) { return "", false }, true); len(unset.unset) != 1 || unset.value != before+"${"+name+"}"+after {
			t.Fatalf("with the variable unset and allowed: %+v", unset)
		}
	})
}
