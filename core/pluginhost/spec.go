package pluginhost

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"
)

// Spec says how to run one channel's adapter.
type Spec struct {
	// Channel is the channel's name; logs and errors carry it.
	Channel string
	// Adapter is the built-in adapter's name, or a label when Path is set.
	Adapter string
	// Path is a third-party adapter executable. Empty means built-in: the
	// core re-executes itself as `SelfExe adapter <Adapter>`.
	Path string
	// SHA256 pins Path's content (lowercase hex); empty means not pinned.
	SHA256 string
	// ConfigJSON is the channel's own config block, passed to Configure.
	ConfigJSON []byte
	// LogLevel is passed to the adapter process (trace … error).
	LogLevel string
	// StateDir is the channel's private directory that survives restarts
	// (the SDK keeps its local send journal there); "" for none.
	StateDir string
	Restart  RestartPolicy
	Timeouts Timeouts
	Limits   Limits
	// SkipInDoubt: a send found begun and never recorded is not made
	// again (Send answers sdk.ErrSendSkipped); otherwise it is resent.
	SkipInDoubt bool
}

// Timeouts bound every call to the adapter; zero fields take the defaults.
// A call past its deadline fails; MaxMissed of them in a row (Health checks
// included) and the process is killed and restarted under the crash budget.
type Timeouts struct {
	Describe, Configure, Start, Webhook, Send, Typing, MarkRead, Health, Close time.Duration
	// HealthInterval is how often a running adapter is asked Health.
	HealthInterval time.Duration
	// MaxMissed is how many calls in a row may miss their deadline.
	MaxMissed int
}

// DefaultTimeouts match the config defaults.
var DefaultTimeouts = Timeouts{
	Describe: 10 * time.Second, Configure: 30 * time.Second, Start: 30 * time.Second,
	Webhook: 10 * time.Second, Send: time.Minute, Typing: 5 * time.Second, MarkRead: 10 * time.Second,
	Health: 5 * time.Second, Close: 10 * time.Second, HealthInterval: 10 * time.Second, MaxMissed: 3,
}

func (t Timeouts) withDefaults() Timeouts {
	d := DefaultTimeouts
	for _, f := range []struct{ dst, src *time.Duration }{
		{&d.Describe, &t.Describe}, {&d.Configure, &t.Configure}, {&d.Start, &t.Start},
		{&d.Webhook, &t.Webhook}, {&d.Send, &t.Send}, {&d.Typing, &t.Typing}, {&d.MarkRead, &t.MarkRead},
		{&d.Health, &t.Health}, {&d.Close, &t.Close}, {&d.HealthInterval, &t.HealthInterval},
	} {
		if *f.src > 0 {
			*f.dst = *f.src
		}
	}
	if t.MaxMissed > 0 {
		d.MaxMissed = t.MaxMissed
	}
	return d
}

// RestartPolicy bounds how a crashed adapter is restarted.
type RestartPolicy struct {
	MaxCrashes     int           // give up after this many crashes ...
	Window         time.Duration // ... within this window
	InitialBackoff time.Duration // first wait before a restart, doubled per crash
	MaxBackoff     time.Duration // cap on the wait
}

// DefaultRestartPolicy matches the config defaults.
var DefaultRestartPolicy = RestartPolicy{MaxCrashes: 5, Window: 5 * time.Minute, InitialBackoff: time.Second, MaxBackoff: 30 * time.Second}

func (p RestartPolicy) withDefaults() RestartPolicy {
	d := DefaultRestartPolicy
	if p.MaxCrashes > 0 {
		d.MaxCrashes = p.MaxCrashes
	}
	if p.Window > 0 {
		d.Window = p.Window
	}
	if p.InitialBackoff > 0 {
		d.InitialBackoff = p.InitialBackoff
	}
	if p.MaxBackoff > 0 {
		d.MaxBackoff = p.MaxBackoff
	}
	return d
}

// backoff is the wait before restart number n (1-based).
func (p RestartPolicy) backoff(n int) time.Duration {
	d := p.InitialBackoff
	for i := 1; i < n && d < p.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, p.MaxBackoff)
}

// ErrChecksumMismatch is wrapped by the error of a binary whose sha256 does
// not match its pin.
var ErrChecksumMismatch = errors.New("sha256 mismatch")

// command builds the adapter's process command, verifying a pinned binary
// first. The environment is built from scratch: an adapter gets its config
// and secrets through Configure, never the core's environment.
func (s Spec) command(selfExe string) (*exec.Cmd, error) {
	var cmd *exec.Cmd
	if s.Path == "" {
		if selfExe == "" {
			return nil, fmt.Errorf("channel %q: built-in adapter %q needs the core's own executable path", s.Channel, s.Adapter)
		}
		cmd = exec.Command(selfExe, "adapter", s.Adapter)
	} else {
		if err := verifyBinary(s.Channel, s.Path, s.SHA256); err != nil {
			return nil, err
		}
		cmd = exec.Command(s.Path)
	}
	cmd.Env = adapterEnv(s.LogLevel)
	setParentDeathSignal(cmd)
	return cmd, nil
}

// passThroughEnv are the only variables of the core's environment an adapter
// sees: how to reach the network and where the CA certificates are.
var passThroughEnv = []string{
	"SSL_CERT_FILE", "SSL_CERT_DIR", "TZ", "TMPDIR",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
}

func adapterEnv(logLevel string) []string {
	env := []string{"LECONNECT_LOG_LEVEL=" + logLevel}
	for _, k := range passThroughEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func verifyBinary(channel, path, want string) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("channel %q: adapter binary: %w", channel, err)
	}
	if !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("channel %q: adapter binary %s is not an executable file", channel, path)
	}
	if err := safeOwnership(channel, path, info); err != nil {
		return err
	}
	if want == "" {
		return nil
	}
	got, err := fileSHA256(path)
	if err != nil {
		return fmt.Errorf("channel %q: hash adapter binary %s: %w", channel, path, err)
	}
	if got != want {
		return fmt.Errorf("channel %q: adapter binary %s has sha256 %s, but the config pins %s; refusing to run it: %w",
			channel, path, got, want, ErrChecksumMismatch)
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
