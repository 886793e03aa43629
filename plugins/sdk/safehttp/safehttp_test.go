package safehttp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
	"github.com/leconnect/leconnect/plugins/sdk/safehttp"
)

// target is a loopback server standing in for an internal service a
// crafted message points at; hits counts the requests it got.
type target struct {
	*httptest.Server
	hits atomic.Int64
}

func newTarget(t *testing.T, h http.HandlerFunc) *target {
	t.Helper()
	tg := &target{}
	if h == nil {
		h = func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("secret internal data")) }
	}
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tg.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(tg.Close)
	return tg
}

func newDownloader(t *testing.T, p safehttp.Policy) *safehttp.Downloader {
	t.Helper()
	if p.Timeout == 0 {
		p.Timeout = 5 * time.Second
	}
	d, err := safehttp.New(p)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func get(t *testing.T, d *safehttp.Downloader, url string) (safehttp.File, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return d.Get(ctx, url, nil)
}

func wantRefused(t *testing.T, err error, tg *target, reason string) {
	t.Helper()
	if !errors.Is(err, safehttp.ErrRefused) {
		t.Fatalf("got err %v, want a refusal (%s)", err, reason)
	}
	if !strings.Contains(err.Error(), reason) {
		t.Errorf("error %q does not say %q", err, reason)
	}
	if tg != nil && tg.hits.Load() != 0 {
		t.Errorf("the refused server got %d requests", tg.hits.Load())
	}
}

func TestInternalAddressesAreRefusedUnlessAllowed(t *testing.T) {
	tg := newTarget(t, nil)
	http := []string{"http"}

	_, err := get(t, newDownloader(t, safehttp.Policy{Schemes: http}), tg.URL+"/admin")
	wantRefused(t, err, tg, "address 127.0.0.1 is loopback")

	// Allowed by network, as an emulator on this machine is configured.
	f, err := get(t, newDownloader(t, safehttp.Policy{Schemes: http,
		Networks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}), tg.URL+"/file")
	if err != nil || string(f.Data) != "secret internal data" {
		t.Fatalf("allowed network: %q, %v", f.Data, err)
	}
	// Allowed as a trusted origin (the configured API base URL), even over
	// http with https the only scheme.
	f, err = get(t, newDownloader(t, safehttp.Policy{Trusted: safehttp.Origins(tg.URL)}), tg.URL+"/file")
	if err != nil || string(f.Data) != "secret internal data" {
		t.Fatalf("trusted origin: %q, %v", f.Data, err)
	}
}

// The name passes the host check; the address it resolves to is refused
// when it is dialled, which is what stops DNS rebinding.
func TestTheAddressDialledIsChecked(t *testing.T) {
	tg := newTarget(t, nil)
	url := strings.Replace(tg.URL, "127.0.0.1", "localhost", 1)
	d := newDownloader(t, safehttp.Policy{Schemes: []string{"http"}, Hosts: []string{"localhost"}})
	_, err := get(t, d, url)
	wantRefused(t, err, tg, "is loopback")
}

func TestURLsOutsideThePolicyAreRefusedBeforeDialling(t *testing.T) {
	tg := newTarget(t, nil)
	port := tg.URL[strings.LastIndex(tg.URL, ":")+1:]
	open := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, tc := range []struct {
		name   string
		policy safehttp.Policy
		url    string
		reason string
	}{
		{"scheme not allowed", safehttp.Policy{Networks: open}, tg.URL, "scheme http"},
		{"not http at all", safehttp.Policy{Networks: open}, "file:///etc/passwd", `scheme "file"`},
		{"gopher", safehttp.Policy{Networks: open}, "gopher://127.0.0.1:" + port, `scheme "gopher"`},
		{"host not the platform's", safehttp.Policy{Schemes: []string{"http"}, Hosts: []string{"api.twilio.com", "*.twiliocdn.com"}, Networks: open}, tg.URL, "host 127.0.0.1:" + port + " is not one"},
		{"wildcard is not the bare domain", safehttp.Policy{Schemes: []string{"http"}, Hosts: []string{"*.localhost"}, Networks: open}, "http://localhost:" + port, "is not one"},
		{"port pinned", safehttp.Policy{Schemes: []string{"http"}, Hosts: []string{"127.0.0.1:1"}, Networks: open}, tg.URL, "is not one"},
		{"credentials in the url", safehttp.Policy{Schemes: []string{"http"}, Networks: open}, "http://user:pw@127.0.0.1:" + port, "without credentials"},
		{"relative", safehttp.Policy{Networks: open}, "/etc/passwd", `scheme ""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := get(t, newDownloader(t, tc.policy), tc.url)
			wantRefused(t, err, tg, tc.reason)
		})
	}
	// The same host with its pinned port and the wildcard's subdomain pass.
	for _, pat := range []string{"127.0.0.1:" + port, "127.0.0.1"} {
		d := newDownloader(t, safehttp.Policy{Schemes: []string{"http"}, Hosts: []string{pat}, Networks: open})
		if _, err := get(t, d, tg.URL); err != nil {
			t.Errorf("pattern %s: %v", pat, err)
		}
	}
}

func TestRedirectsAreCheckedLikeTheFirstURL(t *testing.T) {
	internal := newTarget(t, nil)
	var to atomic.Value
	platform := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, to.Load().(string), http.StatusFound)
	})
	d := newDownloader(t, safehttp.Policy{Schemes: []string{"http", "https"}, Trusted: safehttp.Origins(platform.URL)})

	to.Store(internal.URL + "/admin") // same address, not trusted: refused at dial
	_, err := get(t, d, platform.URL+"/media")
	wantRefused(t, err, internal, "address 127.0.0.1 is loopback")

	d = newDownloader(t, safehttp.Policy{Trusted: safehttp.Origins(platform.URL)})

	to.Store("http://169.254.169.254/latest/meta-data/") // cloud metadata over http
	_, err = get(t, d, platform.URL+"/media")
	wantRefused(t, err, nil, "scheme http")

	to.Store("https://169.254.169.254/latest/meta-data/")
	_, err = get(t, d, platform.URL+"/media")
	wantRefused(t, err, nil, "address 169.254.169.254 is link-local")

	to.Store(platform.URL + "/again") // a loop
	_, err = get(t, d, platform.URL+"/media")
	wantRefused(t, err, nil, "more than 5 redirects")

	// A redirect to an allowed place is followed.
	d = newDownloader(t, safehttp.Policy{Trusted: safehttp.Origins(platform.URL, internal.URL)})
	to.Store(internal.URL + "/file")
	f, err := get(t, d, platform.URL+"/media")
	if err != nil || string(f.Data) != "secret internal data" {
		t.Fatalf("allowed redirect: %q, %v", f.Data, err)
	}
}

func TestSizeAndTimeAreCapped(t *testing.T) {
	big := strings.Repeat("x", 1025)
	withLength := newTarget(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(big)) })
	chunked := newTarget(t, func(w http.ResponseWriter, _ *http.Request) {
		for i := range big {
			_, _ = w.Write([]byte{big[i]})
			w.(http.Flusher).Flush()
		}
	})
	release := make(chan struct{})
	stalled := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })

	p := safehttp.Policy{Trusted: safehttp.Origins(withLength.URL, chunked.URL, stalled.URL), MaxBytes: 1024}
	d := newDownloader(t, p)
	for _, url := range []string{withLength.URL, chunked.URL} {
		if _, err := get(t, d, url); !errors.Is(err, safehttp.ErrTooLarge) {
			t.Errorf("%s: got %v, want ErrTooLarge", url, err)
		}
	}
	p.MaxBytes = 1025
	if f, err := get(t, newDownloader(t, p), chunked.URL); err != nil || len(f.Data) != 1025 {
		t.Errorf("at the cap: %d bytes, %v", len(f.Data), err)
	}

	p.Timeout = 100 * time.Millisecond
	_, err := get(t, newDownloader(t, p), stalled.URL)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stalled server: got %v, want the download's deadline", err)
	}
}

func TestErrorsDoNotRepeatTheURL(t *testing.T) {
	const token = "123456:SECRET-bot-token"
	tg := newTarget(t, func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "gone", http.StatusNotFound) })
	d := newDownloader(t, safehttp.Policy{Trusted: safehttp.Origins(tg.URL)})
	_, err := get(t, d, tg.URL+"/file/bot"+token+"/photo.jpg?sig="+token)
	if err == nil || strings.Contains(err.Error(), token) {
		t.Fatalf("error %v: want one that leaves the token out", err)
	}
	_, err = get(t, newDownloader(t, safehttp.Policy{Schemes: []string{"http"}}), tg.URL+"/file/bot"+token)
	if err == nil || strings.Contains(err.Error(), token) {
		t.Fatalf("refusal %v: want one that leaves the token out", err)
	}
}

func TestAddressClasses(t *testing.T) {
	d := newDownloader(t, safehttp.Policy{})
	for _, tc := range []struct {
		addr, reason string
	}{
		{"127.0.0.1", "loopback"}, {"127.255.0.9", "loopback"}, {"::1", "loopback"},
		{"10.0.0.1", "private"}, {"172.16.5.4", "private"}, {"192.168.1.1", "private"}, {"fd00::1", "private"},
		{"169.254.169.254", "link-local"}, {"fe80::1", "link-local"},
		{"0.0.0.0", "unspecified"}, {"::", "unspecified"}, {"0.1.2.3", "this network"},
		{"100.64.0.1", "shared address space"}, {"224.0.0.1", "multicast"}, {"ff02::1", "multicast"},
		{"255.255.255.255", "reserved"}, {"198.18.0.1", "benchmarking"},
		{"::ffff:127.0.0.1", "loopback"}, {"::ffff:10.1.1.1", "private"}, {"64:ff9b::a00:1", "private"},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			err := d.CheckAddress(netip.MustParseAddr(tc.addr))
			wantRefused(t, err, nil, tc.reason)
		})
	}
	for _, public := range []string{"8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::808:808"} {
		if err := d.CheckAddress(netip.MustParseAddr(public)); err != nil {
			t.Errorf("%s: %v", public, err)
		}
	}
}

func TestConfigWidensThePolicy(t *testing.T) {
	var fe sdk.FieldErrors
	c := safehttp.Config{AllowHosts: []string{"media.example.com", "bad/host"}, AllowNetworks: []string{"127.0.0.0/8", "10.0.0.300/8"}}
	p := c.Apply(safehttp.Policy{Hosts: []string{"api.twilio.com"}}, &fe, "downloads")
	if got := fe.Error(); !strings.Contains(got, "downloads.allow_hosts[1]") || !strings.Contains(got, "downloads.allow_networks[1]: expected a CIDR prefix") {
		t.Errorf("problems: %s", got)
	}
	if len(p.Hosts) != 2 || p.Hosts[1] != "media.example.com" || len(p.Networks) != 1 {
		t.Errorf("policy: %+v", p)
	}
	if _, err := safehttp.New(safehttp.Policy{Hosts: []string{"*"}}); err == nil {
		t.Error("a bare * pattern was taken")
	}
}
