package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromPrefersTheStampThenTheToolchainsRecord(t *testing.T) {
	vcs := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	for _, tc := range []struct {
		name                  string
		version, commit, date string
		bi                    *debug.BuildInfo
		want                  Info
		short                 string
	}{
		{"stamped by make release", "v1.2.3", "fedcba9876543210fedcba9876543210fedcba98", "2026-12-07T00:00:00Z", vcs,
			Info{Version: "v1.2.3", Commit: "fedcba9876543210fedcba9876543210fedcba98", Date: "2026-12-07T00:00:00Z", GoVersion: "go1.26.8"}, "fedcba987654"},
		{"go build in a git checkout", "", "", "", vcs,
			Info{Version: "devel", Commit: "0123456789abcdef0123456789abcdef01234567", Date: "2026-12-01T10:00:00Z", Modified: true, GoVersion: "go1.26.8"}, "0123456789ab+dirty"},
		{"go install module@version", "", "", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}},
			Info{Version: "v1.4.0", GoVersion: "go1.26.8"}, "unknown"},
		{"nothing known", "", "", "", &debug.BuildInfo{GoVersion: "go1.26.8"},
			Info{Version: "devel", GoVersion: "go1.26.8"}, "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := from(tc.version, tc.commit, tc.date, tc.bi)
			tc.want.Platform = got.Platform
			if got != tc.want {
				t.Fatalf("from = %+v\nwant   %+v", got, tc.want)
			}
			if s := got.ShortCommit(); s != tc.short {
				t.Fatalf("ShortCommit = %q; want %q", s, tc.short)
			}
			if out := got.String(); !strings.HasPrefix(out, "leconnect "+tc.want.Version+"\n") || !strings.Contains(out, "commit:     "+tc.short+"\n") {
				t.Fatalf("String =\n%s", out)
			}
		})
	}
}
