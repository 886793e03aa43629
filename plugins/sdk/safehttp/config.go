package safehttp

import (
	"fmt"
	"net/netip"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// Config is the `downloads:` block an adapter's config embeds so an
// operator can widen the platform's policy, e.g. for emulators or a media
// proxy on the brand's network.
type Config struct {
	// AllowHosts adds host patterns (host, *.domain, either with :port).
	AllowHosts []string `json:"allow_hosts"`
	// AllowSchemes adds "http" to the platform's https, e.g. for a media
	// proxy without TLS.
	AllowSchemes []string `json:"allow_schemes"`
	// AllowNetworks lists CIDR prefixes whose internal addresses may be
	// dialled (127.0.0.0/8, 10.1.2.0/24, ::1/128).
	AllowNetworks []string `json:"allow_networks"`
}

// Apply returns p widened by c. Problems go to fe under field (the key
// the block sits at, e.g. "downloads").
func (c Config) Apply(p Policy, fe *sdk.FieldErrors, field string) Policy {
	for i, h := range c.AllowHosts {
		if err := checkPattern(h); err != nil {
			fe.Add(fieldIndex(field+".allow_hosts", i), "%v", err)
			continue
		}
		p.Hosts = append(p.Hosts[:len(p.Hosts):len(p.Hosts)], h)
	}
	if len(c.AllowSchemes) > 0 && len(p.Schemes) == 0 {
		p.Schemes = []string{"https"} // New's default, kept
	}
	for i, sc := range c.AllowSchemes {
		if sc != "http" && sc != "https" {
			fe.Add(fieldIndex(field+".allow_schemes", i), "expected http or https, got %q", sc)
			continue
		}
		p.Schemes = append(p.Schemes[:len(p.Schemes):len(p.Schemes)], sc)
	}
	for i, n := range c.AllowNetworks {
		prefix, err := netip.ParsePrefix(n)
		if err != nil {
			fe.Add(fieldIndex(field+".allow_networks", i), "expected a CIDR prefix such as 127.0.0.0/8, got %q", n)
			continue
		}
		p.Networks = append(p.Networks[:len(p.Networks):len(p.Networks)], prefix.Masked())
	}
	return p
}

func fieldIndex(field string, i int) string { return fmt.Sprintf("%s[%d]", field, i) }
