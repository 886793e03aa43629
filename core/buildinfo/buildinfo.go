package buildinfo

import (
	"cmp"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Stamped at build time:
//
//	-X github.com/leconnect/leconnect/core/buildinfo.version=v1.2.3
//	-X github.com/leconnect/leconnect/core/buildinfo.commit=<sha>
//	-X github.com/leconnect/leconnect/core/buildinfo.date=<RFC 3339>
var version, commit, date string

// Info describes the running binary.
type Info struct {
	Version   string // a release's version, or "devel"
	Commit    string // the full VCS revision, "" when unknown
	Date      string // build date (stamped) or commit time (VCS), RFC 3339; "" when unknown
	Modified  bool   // built from a tree with uncommitted changes
	GoVersion string
	Platform  string // GOOS/GOARCH
}

// Get is the running binary's Info (read once: it cannot change).
var Get = sync.OnceValue(func() Info {
	bi, _ := debug.ReadBuildInfo()
	return from(version, commit, date, bi)
})

// from prefers what was stamped and falls back to the build info.
func from(version, commit, date string, bi *debug.BuildInfo) Info {
	in := Info{Version: version, Commit: commit, Date: date, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		in.GoVersion = bi.GoVersion
		if in.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			in.Version = bi.Main.Version // go install module@version
		}
		stamped := in.Commit != ""
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && !stamped:
				in.Commit = s.Value
			case s.Key == "vcs.time" && in.Date == "" && !stamped:
				in.Date = s.Value
			case s.Key == "vcs.modified" && !stamped:
				in.Modified = s.Value == "true"
			}
		}
	}
	if in.Version == "" {
		in.Version = "devel"
	}
	return in
}

// ShortCommit is the first 12 hex digits of the commit, "+dirty" when
// the tree had changes, "unknown" when there is none.
func (in Info) ShortCommit() string {
	c := in.Commit
	if c == "" {
		return "unknown"
	}
	if len(c) > 12 {
		c = c[:12]
	}
	if in.Modified {
		c += "+dirty"
	}
	return c
}

// String is what `leconnect version` prints.
func (in Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "leconnect %s\n", in.Version)
	fmt.Fprintf(&b, "  commit:     %s\n", in.ShortCommit())
	fmt.Fprintf(&b, "  build date: %s\n", cmp.Or(in.Date, "unknown"))
	fmt.Fprintf(&b, "  go version: %s\n", in.GoVersion)
	fmt.Fprintf(&b, "  platform:   %s\n", in.Platform)
	return b.String()
}

// Collector is the leconnect_build_info gauge (always 1, the facts in its
// labels), as Prometheus' own exporters export theirs.
func Collector() prometheus.Collector {
	in := Get()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "leconnect_build_info",
		Help: "Which leconnect is running: always 1, with its version, revision, build date and Go version as labels.",
		ConstLabels: prometheus.Labels{
			"version": in.Version, "revision": in.ShortCommit(), "build_date": in.Date,
			"goversion": in.GoVersion, "goos": runtime.GOOS, "goarch": runtime.GOARCH,
		},
	})
	g.Set(1)
	return g
}
