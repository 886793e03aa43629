package liveperson

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk/safehttp"
)

// neededServices are resolved together: one Domain API call serves them all.
var neededServices = []string{ServiceAsyncMessaging, ServiceSentinel, ServiceIDP, ServiceSwift}

// resolver caches service hosts from the Domain API (CSDS) for DomainTTL and
// re-resolves after a connection failure. A failed re-resolution keeps using
// the stale hosts rather than failing calls that might still work.
type resolver struct {
	c         *Client
	mu        sync.Mutex
	hosts     map[string]string
	fetchedAt time.Time
	stale     bool
	fl        flightGroup[map[string]string]
}

// baseURL returns "scheme://host" for service.
func (r *resolver) baseURL(ctx context.Context, service string) (string, error) {
	r.mu.Lock()
	host, ok := r.hosts[service]
	fresh := !r.stale && r.c.now().Sub(r.fetchedAt) < r.c.cfg.DomainTTL
	r.mu.Unlock()
	if ok && fresh {
		return r.c.scheme + "://" + host, nil
	}
	hosts, err := r.fl.do("", r.refresh).wait(ctx)
	if err != nil {
		if ok && ctx.Err() == nil {
			r.c.log.Warn("domain api re-resolution failed, using cached host", "service", service, "err", err)
			return r.c.scheme + "://" + host, nil
		}
		return "", err
	}
	host, ok = hosts[service]
	if !ok {
		return "", fmt.Errorf("liveperson domain api: account %s has no %q service", r.c.cfg.AccountID, service)
	}
	return r.c.scheme + "://" + host, nil
}

// isServiceHost reports whether hostport is one the Domain API named for
// this account (with the scheme's default port when it named none).
func (r *resolver) isServiceHost(hostport string) bool {
	r.mu.Lock()
	bases := make([]string, 0, len(r.hosts))
	for _, h := range r.hosts {
		bases = append(bases, r.c.scheme+"://"+h)
	}
	r.mu.Unlock()
	return safehttp.Origins(bases...)(hostport)
}

// invalidate makes the next call re-resolve.
func (r *resolver) invalidate() {
	r.mu.Lock()
	r.stale = true
	r.mu.Unlock()
}

func (r *resolver) refresh() (map[string]string, error) {
	// A caller that read the cache just before the previous refresh stored
	// its result gets here after it: use that result.
	r.mu.Lock()
	if r.hosts != nil && !r.stale && r.c.now().Sub(r.fetchedAt) < r.c.cfg.DomainTTL {
		hosts := r.hosts
		r.mu.Unlock()
		return hosts, nil
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), r.c.cfg.FetchTimeout)
	defer cancel()
	hosts, err := r.c.resolveAll(ctx)
	r.c.m.domainLookups.WithLabelValues(result(err)).Inc()
	if err != nil {
		r.c.log.Error("domain api resolution failed", "err", err)
		return nil, err
	}
	r.mu.Lock()
	r.hosts, r.fetchedAt, r.stale = hosts, r.c.now(), false
	r.mu.Unlock()
	return hosts, nil
}

type baseURIEntry struct {
	Service string `json:"service"`
	Account string `json:"account"`
	BaseURI string `json:"baseURI"`
}

// resolveAll asks the all-services endpoint and falls back to the
// single-service one for anything it does not list (or if it is refused).
func (c *Client) resolveAll(ctx context.Context) (map[string]string, error) {
	base := strings.TrimRight(c.cfg.DomainAPI, "/") + "/api/account/" + url.PathEscape(c.cfg.AccountID) + "/service/"
	hosts := make(map[string]string)
	res, err := c.do(ctx, request{op: "domain", rawURL: base + "baseURI.json?version=1.0", method: http.MethodGet})
	switch {
	case err == nil:
		var all struct {
			BaseURIs []baseURIEntry `json:"baseURIs"`
		}
		if err := json.Unmarshal(res.body, &all); err != nil {
			return nil, fmt.Errorf("liveperson domain api: decode response: %w", err)
		}
		for _, e := range all.BaseURIs {
			if h, ok := cleanHost(e.BaseURI); ok {
				hosts[e.Service] = h
			}
		}
	case errors.Is(err, ErrBadRequest):
		// Fall through to single-service lookups.
	default:
		return nil, err
	}
	for _, svc := range neededServices {
		if _, ok := hosts[svc]; ok {
			continue
		}
		res, err := c.do(ctx, request{op: "domain", rawURL: base + url.PathEscape(svc) + "/baseURI.json?version=1.0", method: http.MethodGet})
		if err != nil {
			if errors.Is(err, ErrBadRequest) {
				continue // not provisioned for this account; reported when used
			}
			return nil, err
		}
		var e baseURIEntry
		if err := json.Unmarshal(res.body, &e); err != nil {
			return nil, fmt.Errorf("liveperson domain api %s: decode response: %w", svc, err)
		}
		if h, ok := cleanHost(e.BaseURI); ok {
			hosts[svc] = h
		}
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("liveperson domain api: no services resolved for account %s", c.cfg.AccountID)
	}
	return hosts, nil
}

// cleanHost accepts a bare host[:port]; a scheme or trailing slash some
// proxies add is dropped.
func cleanHost(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	s = strings.TrimRight(s, "/")
	if s == "" || strings.ContainsAny(s, "/?# ") {
		return "", false
	}
	return s, true
}
