package config

import (
	"fmt"
	"strconv"
	"strings"
)

// LookupEnvFunc returns the value of an environment variable and whether it is set;
// os.LookupEnv is the real one, tests pass a map-backed fake.
type LookupEnvFunc func(name string) (string, bool)

// expansion is the result of expanding one scalar value.
type expansion struct {
	value string
	// vars names the variables the value referenced; non-empty means the value is secret.
	vars []string
	// changed reports that the text differs from the file (a ${VAR} or a $$ escape), which
	// makes the value a string whatever YAML would have resolved the raw text to.
	changed bool
	// problems are messages for malformed references and unset variables.
	problems []string
	// unset names the variables that were not set when unset variables are allowed; the
	// value then keeps their ${NAME} text.
	unset []string
}

// expand replaces ${NAME} with the variable's value and $$ with $. Only the braced form is
// recognised so that values such as passwords containing "$x" need no escaping; any other $
// is kept literally.
func expand(s string, lookup LookupEnvFunc, allowUnset bool) expansion {
	if !strings.Contains(s, "$") {
		return expansion{value: s}
	}
	var (
		b   strings.Builder
		out = expansion{changed: true}
	)
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				out.problems = append(out.problems, `unterminated "${"; expected ${NAME} (write $$ for a literal $)`)
				b.WriteString(s[i:])
				i = len(s)
				continue
			}
			name := s[i+2 : i+2+end]
			i += 2 + end
			if !validVarName(name) {
				out.problems = append(out.problems, fmt.Sprintf(
					"invalid variable reference %s; expected ${NAME} where NAME is letters, digits and underscores (write $$ for a literal $)",
					strconv.Quote("${"+name+"}")))
				continue
			}
			out.vars = append(out.vars, name)
			v, ok := lookupOrUnset(lookup, name)
			if !ok && allowUnset {
				out.unset = append(out.unset, name)
				b.WriteString("${" + name + "}")
				continue
			}
			if !ok {
				out.problems = append(out.problems, fmt.Sprintf(
					"environment variable %s is not set; expected it to be set for ${%s}", name, name))
				continue
			}
			b.WriteString(v)
		default:
			b.WriteByte('$')
		}
	}
	out.value = b.String()
	return out
}

func lookupOrUnset(lookup LookupEnvFunc, name string) (string, bool) {
	if lookup == nil {
		return "", false
	}
	return lookup(name)
}

func validVarName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		switch {
		case r == '_', 'A' <= r && r <= 'Z', 'a' <= r && r <= 'z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// describe renders a value for an error message without leaking secrets: values that came
// from the environment are named by their variables, everything else is quoted.
func (e expansion) describe() string {
	if len(e.vars) == 0 {
		return strconv.Quote(e.value)
	}
	refs := make([]string, len(e.vars))
	for i, v := range e.vars {
		refs[i] = "${" + v + "}"
	}
	return "the value of " + strings.Join(refs, ", ")
}
