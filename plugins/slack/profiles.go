package slack

import (
	"context"
	"net/url"
	"sync"
	"time"

	"github.com/leconnect/leconnect/plugins/sdk"
)

// profileTTL is how long a users.info answer is used before asking again.
const profileTTL = time.Hour

// profiles caches users.info answers per user, bounded, so that a
// consumer's names, title and email (where the app has users:read.email)
// reach the core's SDEs without one Web API call per message.
type profiles struct {
	mu    sync.Mutex
	max   int
	byID  map[string]profileEntry
	order []string
}

type profileEntry struct {
	p  userProfile
	at time.Time
}

// userProfile is the part of users.info the adapter uses.
type userProfile struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	RealName string `json:"real_name"`
	Locale   string `json:"locale"`
	Profile  struct {
		RealName    string `json:"real_name"`
		DisplayName string `json:"display_name"`
		FirstName   string `json:"first_name"`
		LastName    string `json:"last_name"`
		Title       string `json:"title"`
		Email       string `json:"email"`
		Phone       string `json:"phone"`
	} `json:"profile"`
}

func newProfiles(max int) *profiles { return &profiles{max: max, byID: map[string]profileEntry{}} }

// enrich fills c from the user's Slack profile. A failed lookup (a missing
// users:read scope, a rate limit) leaves c as the event had it: the
// message matters more than its sender's title.
func (ps *profiles) enrich(ctx context.Context, api *webAPI, c *sdk.Consumer, log func(msg string, args ...any)) {
	// Only where the consumer is one person (a DM): a channel or thread
	// conversation is not its latest poster.
	user := c.Attributes["slack_user_id"]
	if user == "" || c.ID != user {
		return
	}
	p, ok := ps.get(user)
	if !ok {
		var res struct {
			User userProfile `json:"user"`
		}
		if err := api.callForm(ctx, "users.info", api.token, url.Values{"user": {user}, "include_locale": {"true"}}, &res); err != nil {
			log("users.info failed; the consumer's profile stays as the event gave it", "user", user, "err", err)
			return
		}
		p = res.User
		ps.put(user, p)
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&c.DisplayName, firstNonEmpty(p.Profile.RealName, p.RealName, p.Profile.DisplayName))
	set(&c.FirstName, p.Profile.FirstName)
	set(&c.LastName, p.Profile.LastName)
	set(&c.Email, p.Profile.Email)
	set(&c.Phone, p.Profile.Phone)
	set(&c.Locale, p.Locale)
	set(&c.Username, p.Name)
	if p.Profile.Title != "" {
		if c.Attributes == nil {
			c.Attributes = map[string]string{}
		}
		c.Attributes["title"] = p.Profile.Title
	}
}

func (ps *profiles) get(user string) (userProfile, bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	e, ok := ps.byID[user]
	if !ok || time.Since(e.at) > profileTTL {
		return userProfile{}, false
	}
	return e.p, true
}

func (ps *profiles) put(user string, p userProfile) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if _, ok := ps.byID[user]; !ok {
		ps.order = append(ps.order, user)
		if len(ps.order) > ps.max {
			delete(ps.byID, ps.order[0])
			ps.order = ps.order[1:]
		}
	}
	ps.byID[user] = profileEntry{p: p, at: time.Now()}
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
