package config

import (
	"slices"
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	env := fakeEnv(map[string]string{"A": "alpha", "B_2": "beta", "EMPTY": ""})
	tests := []struct {
		in, want    string
		vars        []string
		changed     bool
		problemLike string // substring of the single expected problem; empty: none
	}{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "alpha", vars: []string{"A"}, changed: true},
		{in: "x-${A}-${B_2}-y", want: "x-alpha-beta-y", vars: []string{"A", "B_2"}, changed: true},
		{in: "${EMPTY}", want: "", vars: []string{"EMPTY"}, changed: true},
		{in: "$$", want: "$", changed: true},
		{in: "$${A}", want: "${A}", changed: true},
		{in: "$A and $", want: "$A and $", changed: true},
		{in: "cost: 5$", want: "cost: 5$", changed: true},
		{in: "${MISSING}", want: "", vars: []string{"MISSING"}, changed: true, problemLike: "environment variable MISSING is not set"},
		{in: "${A", want: "${A", changed: true, problemLike: `unterminated "${"`},
		{in: "${}", want: "", changed: true, problemLike: `invalid variable reference "${}"`},
		{in: "${1A}", want: "", changed: true, problemLike: `invalid variable reference "${1A}"`},
		{in: "${A:-x}", want: "", changed: true, problemLike: `invalid variable reference "${A:-x}"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e := expand(tt.in, env, false)
			if e.value != tt.want || !slices.Equal(e.vars, tt.vars) || e.changed != tt.changed {
				t.Errorf("expand(%q) = %q vars %v changed %v; want %q vars %v changed %v", tt.in, e.value, e.vars, e.changed, tt.want, tt.vars, tt.changed)
			}
			switch {
			case tt.problemLike == "" && len(e.problems) != 0:
				t.Errorf("unexpected problems %v", e.problems)
			case tt.problemLike != "" && (len(e.problems) != 1 || !strings.Contains(e.problems[0], tt.problemLike)):
				t.Errorf("problems = %v, want one containing %q", e.problems, tt.problemLike)
			}
		})
	}
}

func TestExpandNilLookup(t *testing.T) {
	if e := expand("${A}", nil, false); len(e.problems) != 1 {
		t.Errorf("nil lookup: problems = %v, want the variable reported unset", e.problems)
	}
}

// Validating where secrets are absent: unset variables become warnings, the value keeps its
// ${NAME} text, and FromUnsetVariable marks the path so later checks can skip it.
func TestUnsetVariablesAsWarnings(t *testing.T) {
	data := []byte(`server: {public_url: https://connector.example.com}
liveengage: {account_id: "1", client_id: app, client_secret: "${LE_SECRET}"}
channels:
  - name: tg
    adapter: telegram
    config: {bot_token: "${TG_TOKEN}", mode: webhook}
`)
	c, warnings, err := Parse("c.yaml", data, nil, WithBuiltinAdapters("telegram"), WithUnsetVariablesAsWarnings())
	if err != nil {
		t.Fatalf("Parse = %v; want unset variables to be warnings only", err)
	}
	var paths []string
	for _, w := range warnings {
		if strings.Contains(w.Message, "is not set") {
			paths = append(paths, w.Pos.String()+" "+w.Path)
		}
	}
	want := []string{"c.yaml:2:47 liveengage.client_secret", "c.yaml:6:14 channels[0].config.bot_token"}
	if strings.Join(paths, "|") != strings.Join(want, "|") {
		t.Fatalf("warnings at %q, want %q", paths, want)
	}
	if !c.FromUnsetVariable("channels[0].config.bot_token") || c.FromUnsetVariable("channels[0].config.mode") {
		t.Fatal("FromUnsetVariable does not mark exactly the unset values")
	}
	if c.LiveEngage.ClientSecret != "${LE_SECRET}" {
		t.Fatalf("client_secret = %q; want the reference kept", c.LiveEngage.ClientSecret)
	}
	if _, _, err := Parse("c.yaml", data, nil, WithBuiltinAdapters("telegram")); err == nil {
		t.Fatal("without the option unset variables must be problems")
	}
}
