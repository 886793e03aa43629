package safehttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrRefused is wrapped by every error for a URL or address the policy
// does not allow. Retrying such a download cannot help.
var ErrRefused = errors.New("download refused")

// Policy says which URLs a [Downloader] may fetch.
type Policy struct {
	// Schemes allowed for URLs of untrusted hosts [https].
	Schemes []string
	// Hosts a URL and each redirect may name: "example.com" exactly,
	// "*.example.com" any name under it, either with ":port" to allow only
	// that port. Empty allows every host name; addresses are checked still.
	Hosts []string
	// Networks whose addresses may be dialled although they are loopback,
	// private, link-local, shared or unspecified (e.g. 127.0.0.0/8 for
	// emulators on this machine).
	Networks []netip.Prefix
	// Trusted reports whether host:port was configured by the operator, as
	// a platform API base URL is: such a host passes the name and scheme
	// checks, and whatever it resolves to may be dialled. Nil trusts none.
	Trusted func(hostport string) bool
	// MaxBytes caps a download's body [10 MiB].
	MaxBytes int64
	// Timeout bounds one download, redirects included [30 s].
	Timeout time.Duration
	// MaxRedirects is how many redirects are followed [5].
	MaxRedirects int
}

// File is a downloaded body.
type File struct {
	Data        []byte
	ContentType string
}

// Downloader fetches URLs within a Policy. Safe for concurrent use.
type Downloader struct {
	p      Policy
	client *http.Client
}

// New checks p's host patterns and applies its defaults.
func New(p Policy) (*Downloader, error) {
	if len(p.Schemes) == 0 {
		p.Schemes = []string{"https"}
	}
	for _, h := range p.Hosts {
		if err := checkPattern(h); err != nil {
			return nil, err
		}
	}
	if p.MaxBytes <= 0 {
		p.MaxBytes = 10 << 20
	}
	if p.Timeout <= 0 {
		p.Timeout = 30 * time.Second
	}
	if p.MaxRedirects <= 0 {
		p.MaxRedirects = 5
	}
	d := &Downloader{p: p}
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would hide the address dialled
		DialContext:           d.dial,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: p.Timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	d.client = &http.Client{Transport: transport, CheckRedirect: d.checkRedirect}
	return d, nil
}

// Client is an http.Client that keeps to the policy's addresses and
// redirects, for callers that need their own request handling (the core's
// LiveEngage client). It does not cap size or time; Get does.
func (d *Downloader) Client() *http.Client { return d.client }

// Get downloads rawURL. decorate, when not nil, may add headers
// (credentials) to the first request; net/http drops Authorization on a
// redirect to another host. Errors name the host, never the whole URL
// (download URLs may carry tokens).
func (d *Downloader) Get(ctx context.Context, rawURL string, decorate func(*http.Request)) (File, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return File{}, fmt.Errorf("%w: not a url", ErrRefused)
	}
	if err := d.Check(u); err != nil {
		return File{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.p.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return File{}, fmt.Errorf("download from %s: %w", u.Host, err)
	}
	if decorate != nil {
		decorate(req)
	}
	res, err := d.client.Do(req)
	if err != nil {
		return File{}, fmt.Errorf("download from %s: %w", u.Host, unwrapURLError(err))
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
		return File{}, fmt.Errorf("download from %s: HTTP %d", u.Host, res.StatusCode)
	}
	if res.ContentLength > d.p.MaxBytes {
		return File{}, fmt.Errorf("download from %s: %w: %d bytes, more than %d", u.Host, ErrTooLarge, res.ContentLength, d.p.MaxBytes)
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, d.p.MaxBytes+1))
	if err != nil {
		return File{}, fmt.Errorf("download from %s: %w", u.Host, unwrapURLError(err))
	}
	if int64(len(data)) > d.p.MaxBytes {
		return File{}, fmt.Errorf("download from %s: %w: more than %d bytes", u.Host, ErrTooLarge, d.p.MaxBytes)
	}
	return File{Data: data, ContentType: res.Header.Get("Content-Type")}, nil
}

// ErrTooLarge is wrapped when a body is over the policy's MaxBytes.
var ErrTooLarge = errors.New("file too large")

// Check reports whether u's scheme and host are allowed. The address is
// checked later, when it is dialled.
func (d *Downloader) Check(u *url.URL) error {
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return fmt.Errorf("%w: scheme %q", ErrRefused, u.Scheme)
	}
	if u.Host == "" || u.User != nil {
		return fmt.Errorf("%w: %q is not an absolute url without credentials", ErrRefused, u.Scheme+"://"+u.Host)
	}
	hostport := canonicalHostPort(u)
	if d.trusted(hostport) {
		return nil
	}
	if !contains(d.p.Schemes, scheme) {
		return fmt.Errorf("%w: scheme %s for %s (allowed: %s)", ErrRefused, scheme, u.Host, strings.Join(d.p.Schemes, ", "))
	}
	if len(d.p.Hosts) == 0 {
		return nil
	}
	host, port, _ := net.SplitHostPort(hostport)
	for _, pat := range d.p.Hosts {
		if matchHost(pat, host, port) {
			return nil
		}
	}
	return fmt.Errorf("%w: host %s is not one this platform uses (allowed: %s)", ErrRefused, u.Host, strings.Join(d.p.Hosts, ", "))
}

func (d *Downloader) trusted(hostport string) bool {
	return d.p.Trusted != nil && d.p.Trusted(hostport)
}

func (d *Downloader) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > d.p.MaxRedirects {
		return fmt.Errorf("%w: more than %d redirects", ErrRefused, d.p.MaxRedirects)
	}
	return d.Check(req.URL)
}

// dial connects to addr, refusing internal addresses unless the host was
// trusted or the address is in an allowed network. The check runs on the
// address about to be connected, after resolution: a name that resolved
// to a public address when checked and to an internal one now is refused.
func (d *Downloader) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	trusted := d.trusted(addr)
	dialer := &net.Dialer{
		Timeout: 10 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			if trusted {
				return nil
			}
			return d.checkAddress(address)
		},
	}
	return dialer.DialContext(ctx, network, addr)
}

func (d *Downloader) checkAddress(address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot check address %q", ErrRefused, address)
	}
	return d.CheckAddress(ap.Addr())
}

// CheckAddress reports whether ip may be dialled: a public unicast
// address, or one in the policy's Networks.
func (d *Downloader) CheckAddress(ip netip.Addr) error {
	ip = ip.Unmap()
	for _, n := range d.p.Networks {
		if n.Contains(ip) {
			return nil
		}
	}
	if reason := internal(ip); reason != "" {
		return fmt.Errorf("%w: address %s is %s", ErrRefused, ip, reason)
	}
	return nil
}

// special lists ranges that are not the public internet beyond what
// netip's predicates name (RFC 6890 and successors).
var special = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "in \"this network\" (0.0.0.0/8)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space (100.64.0.0/10)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments (192.0.0.0/24)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking network (198.18.0.0/15)"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved (240.0.0.0/4)"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64 (64:ff9b:1::/48)"},
}

// internal says why ip is not a public unicast address, or "".
func internal(ip netip.Addr) string {
	switch {
	case !ip.IsValid():
		return "invalid"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.IsMulticast():
		return "multicast"
	}
	for _, s := range special {
		if s.prefix.Contains(ip) {
			return s.reason
		}
	}
	if ip.Is6() && netip.MustParsePrefix("64:ff9b::/96").Contains(ip) {
		// NAT64 embeds an IPv4 address in the last four bytes.
		b := ip.As16()
		return internal(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	}
	return ""
}

func checkPattern(p string) error {
	host := strings.TrimPrefix(p, "*.")
	if h, port, err := net.SplitHostPort(host); err == nil {
		if port == "" || h == "" {
			return fmt.Errorf("host pattern %q: expected host, *.domain or either with :port", p)
		}
		host = h
	}
	if host == "" || strings.ContainsAny(host, "*/@?# ") {
		return fmt.Errorf("host pattern %q: expected host, *.domain or either with :port", p)
	}
	return nil
}

func matchHost(pattern, host, port string) bool {
	pattern = strings.ToLower(pattern)
	if h, p, err := net.SplitHostPort(pattern); err == nil {
		if p != port {
			return false
		}
		pattern = h
	}
	if suffix, ok := strings.CutPrefix(pattern, "*."); ok {
		return strings.HasSuffix(host, "."+suffix)
	}
	return host == strings.Trim(pattern, "[]")
}

// canonicalHostPort is u's host:port in lower case, with the scheme's
// default port when the URL names none.
func canonicalHostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "443"
		if strings.EqualFold(u.Scheme, "http") {
			port = "80"
		}
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// Origins trusts exactly the host:port of each base URL (ignoring those
// that do not parse), for Policy.Trusted.
func Origins(baseURLs ...string) func(hostport string) bool {
	set := map[string]bool{}
	for _, b := range baseURLs {
		if u, err := url.Parse(b); err == nil && u.Host != "" {
			set[canonicalHostPort(u)] = true
		}
	}
	return func(hostport string) bool { return set[strings.ToLower(hostport)] }
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// unwrapURLError drops net/http's *url.Error wrapper, which repeats the
// whole URL (and any token in it).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
