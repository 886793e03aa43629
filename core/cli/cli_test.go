package cli_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
)

// The tests run the real binaries, as users do.
var (
	leconnect string // the daemon
	echoBin   string // a third-party adapter binary
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "leconnect-cli-test")
	if err != nil {
		panic(err)
	}
	leconnect = filepath.Join(dir, "leconnect")
	echoBin = filepath.Join(dir, "leconnect-echo")
	for bin, pkg := range map[string]string{
		leconnect: "github.com/leconnect/leconnect/core/cmd/leconnect",
		echoBin:   "github.com/leconnect/leconnect/plugins/sdk/adaptertest/testdata/echo/cmd/leconnect-echo",
	} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// leconnectCmd runs the daemon binary with only the given environment.
func runLeconnect(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(leconnect, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, stdout.String(), stderr.String()}
}

func TestVersion(t *testing.T) {
	r := runLeconnect(t, nil, "version")
	if r.code != 0 || !regexp.MustCompile(`^leconnect \S+`).MatchString(r.stdout) {
		t.Fatalf("version = %+v", r)
	}
}

func TestHealthcheckExitStatus(t *testing.T) {
	var status atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(int(status.Load())) }))
	defer srv.Close()
	for _, tc := range []struct {
		name     string
		status   int
		url      string
		wantCode int
		want     string
	}{
		{"healthy", http.StatusOK, srv.URL, 0, "200 OK"},
		{"not ready", http.StatusServiceUnavailable, srv.URL, 1, "503 Service Unavailable"},
		{"nothing listening", http.StatusOK, "http://127.0.0.1:1/healthz", 1, "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status.Store(int32(tc.status))
			r := runLeconnect(t, nil, "healthcheck", "--url", tc.url)
			if r.code != tc.wantCode || !strings.Contains(r.stdout+r.stderr, tc.want) {
				t.Fatalf("healthcheck = %+v; want exit %d and %q", r, tc.wantCode, tc.want)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		wantErr  string
	}{
		{nil, 2, "Usage:"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"validate", "--config"}, 2, "flag needs an argument"},
		{[]string{"validate", "--config", "x.yaml", "extra"}, 2, "unexpected arguments"},
		{[]string{"validate", "--config", "does-not-exist.yaml"}, 1, "does-not-exist.yaml: cannot read the config file: no such file"},
		{[]string{"adapter", "nope"}, 1, `no built-in adapter "nope"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runLeconnect(t, nil, tt.args...)
			if r.code != tt.wantCode || !strings.Contains(r.stderr, tt.wantErr) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, tt.wantCode, tt.wantErr)
			}
		})
	}
}

func TestValidateNamesLineAndKeyOfEveryProblem(t *testing.T) {
	tests := []struct {
		file string
		want []string // lines expected on stderr
	}{
		{"unknown_key.yaml", []string{`testdata/unknown_key.yaml:2:3: server.listne: unknown key "listne"`}},
		{"missing_required.yaml", []string{`testdata/missing_required.yaml:3:1: liveengage.client_id: missing required value`}},
		{"wrong_type.yaml", []string{`testdata/wrong_type.yaml:3:3: server.max_body_bytes: `}},
		{"adapter_field_errors.yaml", []string{
			`testdata/adapter_field_errors.yaml:12:7: channels[0].config.tokn: unknown key (expected one of: max_text_length, token)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r := runLeconnect(t, []string{"ECHO_BIN=" + echoBin}, "validate", "--config", "testdata/"+tt.file)
			if r.code != 1 {
				t.Fatalf("exit %d; want 1\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if !strings.Contains(r.stderr, "problem(s)") {
				t.Errorf("no summary line:\n%s", r.stderr)
			}
		})
	}
}

func TestValidateLaunchesAdaptersAndAcceptsAValidFile(t *testing.T) {
	r := runLeconnect(t, []string{"ECHO_BIN=" + echoBin, "ECHO_TOKEN=t", "LE_CLIENT_SECRET=s", "STORE_PATH=" + filepath.Join(t.TempDir(), "x.db")},
		"validate", "--config", "testdata/valid_echo.yaml")
	if r.code != 0 || !strings.Contains(r.stdout, "channel echo: adapter echo 1.0.0 accepts its config") || !strings.Contains(r.stdout, "valid") {
		t.Fatalf("validate = %+v", r)
	}
}

// Where secrets are absent, validate still checks everything else.
func TestValidateWithoutSecrets(t *testing.T) {
	r := runLeconnect(t, []string{"ECHO_BIN=" + echoBin, "STORE_PATH=" + filepath.Join(t.TempDir(), "x.db")},
		"validate", "--config", "testdata/valid_echo.yaml")
	if r.code != 0 {
		t.Fatalf("validate without secrets = %+v", r)
	}
	for _, v := range []string{"LE_CLIENT_SECRET", "ECHO_TOKEN"} {
		if !strings.Contains(r.stderr, "warning: ") || !strings.Contains(r.stderr, "environment variable "+v+" is not set") {
			t.Errorf("no warning for %s:\n%s", v, r.stderr)
		}
	}
}

// The README's first command.
func TestValidateTheExample(t *testing.T) {
	r := runLeconnect(t, nil, "validate", "--config", "../../connector.yaml.example")
	if r.code != 0 || !strings.Contains(r.stdout, "channel support-telegram: adapter telegram") || !strings.Contains(r.stdout, "connector.yaml.example: valid") {
		t.Fatalf("validate connector.yaml.example = %+v", r)
	}
	r = runLeconnect(t, []string{"LE_CLIENT_SECRET=s", "TELEGRAM_BOT_TOKEN=123456:ABCdef", "TELEGRAM_SECRET_TOKEN=secret"},
		"validate", "--config", "../../connector.yaml.example")
	if r.code != 0 || !strings.Contains(r.stdout, "channel support-telegram: adapter telegram ") || strings.Contains(r.stderr, "warning") {
		t.Fatalf("validate connector.yaml.example with its secrets set = %+v", r)
	}
}

// Each platform's emulator runs from the command line: -h lists its flags,
// and started on a free port it says where it listens, answers there and
// stops on an interrupt.
func TestEmulatorCommands(t *testing.T) {
	if r := runLeconnect(t, nil, "emulator", "--help"); r.code != 0 || !strings.Contains(r.stderr, "liveengage|telegram|slack|sms") {
		t.Fatalf("emulator --help = %+v", r)
	}
	if r := runLeconnect(t, nil, "emulator", "whatsapp"); r.code != 2 || !strings.Contains(r.stderr, `unknown emulator "whatsapp"`) {
		t.Fatalf("emulator whatsapp = %+v", r)
	}
	for _, tc := range []struct {
		name  string
		flags []string
		says  string
	}{
		{"liveengage", []string{"-account", "12345678", "-client-id", "c", "-client-secret", "s"}, "LiveEngage emulator"},
		{"telegram", nil, "Telegram emulator listening on http://"},
		{"slack", nil, "Slack emulator listening on http://"},
		{"sms", nil, "SMS emulator (Twilio, Vonage) listening on http://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := runLeconnect(t, nil, "emulator", tc.name, "-h"); r.code != 0 || !strings.Contains(r.stderr, "-listen") {
				t.Fatalf("emulator %s -h = %+v", tc.name, r)
			}
			cmd := exec.Command(leconnect, append([]string{"emulator", tc.name, "-listen", "127.0.0.1:0"}, tc.flags...)...)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil || !strings.Contains(line, tc.says) {
				t.Fatalf("first line %q, %v; want %q\n%s", line, err, tc.says, stderr.String())
			}
			base := regexp.MustCompile(`http://127\.0\.0\.1:\d+`).FindString(line)
			res, err := http.Get(base + "/")
			if err != nil {
				t.Fatalf("nothing answers at %s: %v", base, err)
			}
			res.Body.Close()
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("stopping on an interrupt: %v\n%s", err, stderr.String())
			}
		})
	}
}
