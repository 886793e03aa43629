package e2e

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leconnect/leconnect/emulator/liveengage"
	tgemu "github.com/leconnect/leconnect/emulator/telegram"
)

// repoRoot is the module's root, where scripts/ and the Dockerfile are.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// Fixed stamps, so two builds can be compared and the stamp checked.
const (
	stampVersion = "v9.9.9-e2e"
	stampCommit  = "0123456789abcdef0123456789abcdef01234567"
	stampDate    = "2026-01-02T03:04:05Z"
)

// release runs scripts/release.sh from root for this machine's platform.
func release(t *testing.T, root, dist string) string {
	t.Helper()
	cmd := exec.Command("bash", "scripts/release.sh")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "TARGETS=linux/"+runtime.GOARCH, "BINARIES=leconnect", "DIST="+dist,
		"VERSION="+stampVersion, "COMMIT="+stampCommit, "DATE="+stampDate)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, out)
	}
	return filepath.Join(dist, fmt.Sprintf("leconnect_%s_linux_%s", stampVersion, runtime.GOARCH))
}

// TestReleaseIsStampedAndReproducible: make release's script builds a
// binary that says what was stamped, with a SHA256SUMS that checks, and
// the same sources built again in another directory give the same bytes.
// A plain `go build` in a git checkout says its commit.
func TestReleaseIsStampedAndReproducible(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("release targets are checked on linux")
	}
	root := repoRoot(t)
	dist1 := t.TempDir()
	bin1 := release(t, root, dist1)

	sums := exec.Command("sha256sum", "-c", "SHA256SUMS")
	sums.Dir = dist1
	if out, err := sums.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, out)
	}
	out, err := exec.Command(bin1, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("version: %v\n%s", err, out)
	}
	for _, want := range []string{"leconnect " + stampVersion + "\n", "commit:     " + stampCommit[:12] + "\n", "build date: " + stampDate + "\n"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("version printed\n%s\nwant it to contain %q", out, want)
		}
	}
	assertStatic(t, bin1)

	// The same sources in another directory (no .git there: the script
	// stamps what it is given and asks git nothing).
	copyRoot := filepath.Join(t.TempDir(), "elsewhere")
	copySources(t, root, copyRoot)
	bin2 := release(t, copyRoot, t.TempDir())
	a, err := os.ReadFile(bin1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(bin2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatalf("two builds of the same sources differ (%d and %d bytes)", len(a), len(b))
	}

	// A plain go build from the checkout (Go's default -buildvcs=auto; this
	// machine's go env may turn it off) says which commit it is.
	head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("not a git checkout: %v", err)
		}
		t.Skipf("not a git checkout: %v", err)
	}
	plain := filepath.Join(t.TempDir(), "leconnect")
	build := exec.Command("go", "build", "-o", plain, "./core/cmd/leconnect")
	build.Dir = root
	build.Env = append(os.Environ(), "GOFLAGS=-buildvcs=auto")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err = exec.Command(plain, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("version: %v\n%s", err, out)
	}
	if want := "commit:     " + strings.TrimSpace(string(head))[:12]; !strings.Contains(string(out), want) {
		t.Fatalf("a plain go build printed\n%s\nwant %q", out, want)
	}
}

// copySources copies the files git would check out (tracked, and new ones
// not ignored) from root to dst.
func copySources(t *testing.T, root, dst string) {
	t.Helper()
	files, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, f := range strings.Split(strings.TrimRight(string(files), "\x00"), "\x00") {
		src := filepath.Join(root, f)
		info, err := os.Lstat(src)
		if err != nil || !info.Mode().IsRegular() {
			continue // deleted in the working tree, or not a file
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), data, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// assertStatic fails unless path is an ELF executable with no dynamic
// loader and no shared libraries: it runs on scratch or distroless/static.
func assertStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Fatalf("%s is dynamically linked (program header %v)", path, p.Type)
		}
	}
}

// dockerfile is the parsed Dockerfile: each instruction of the final stage
// by name, and the build stage's release command with its ARG defaults.
type dockerfile struct {
	final      map[string][]string // instruction -> its arguments, each occurrence
	releaseRun string
	args       map[string]string
}

func parseDockerfile(t *testing.T, path string) dockerfile {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := dockerfile{final: map[string][]string{}, args: map[string]string{}}
	stages := 0
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		instr = strings.ToUpper(instr)
		if instr == "FROM" {
			stages++
		}
		switch {
		case stages == 1 && instr == "ARG":
			k, v, _ := strings.Cut(rest, "=")
			d.args[k] = v
		case stages == 1 && instr == "RUN" && strings.Contains(rest, "scripts/release.sh"):
			d.releaseRun = rest
		case stages == 2:
			d.final[instr] = append(d.final[instr], rest)
		}
	}
	if stages != 2 || d.releaseRun == "" {
		t.Fatalf("%s: want two stages, the first running scripts/release.sh (stages %d)", path, stages)
	}
	return d
}

// execForm decodes a JSON exec-form argument list (["a", "b"]).
func execForm(t *testing.T, s string) []string {
	t.Helper()
	var argv []string
	if err := json.Unmarshal([]byte(s), &argv); err != nil {
		t.Fatalf("not an exec-form list: %s: %v", s, err)
	}
	return argv
}

// TestContainerRecipe keeps the Dockerfile honest without a Docker engine:
// its build stage's command builds a static binary, which started the way
// the final stage starts it (its ENTRYPOINT and CMD, from an otherwise
// empty root, as a non-root user, the state directory its WORKDIR) serves
// /readyz 200 against the emulators with a built-in adapter; the
// HEALTHCHECK command passes and STOPSIGNAL stops it cleanly.
func TestContainerRecipe(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the image is linux")
	}
	root := repoRoot(t)
	df := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	for _, instr := range []string{"USER", "VOLUME", "HEALTHCHECK", "STOPSIGNAL", "ENTRYPOINT", "CMD", "WORKDIR"} {
		if len(df.final[instr]) == 0 {
			t.Fatalf("the final stage has no %s", instr)
		}
	}
	user := df.final["USER"][0]
	if uid, _, _ := strings.Cut(user, ":"); uid == "0" || uid == "root" {
		t.Fatalf("USER %s: the image must not run as root", user)
	}

	// The build stage's command, run here as the image build runs it.
	out := t.TempDir()
	build := exec.Command("bash", "-c", strings.ReplaceAll(df.releaseRun, "/out", out))
	build.Dir = root
	build.Env = os.Environ()
	for k, v := range df.args {
		build.Env = append(build.Env, k+"="+v)
	}
	build.Env = append(build.Env, "TARGETARCH="+runtime.GOARCH)
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the Dockerfile's build command: %v\n%s", err, b)
	}
	bin := filepath.Join(out, "leconnect")
	assertStatic(t, bin)

	// The image's layout under a fresh root: the binary, the config
	// volume, the state volume (the WORKDIR) owned by the image's user.
	img := t.TempDir()
	for _, dir := range []string{filepath.Dir(img), img} { // t.TempDir makes them 0700, closed to the image's user
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	entry := execForm(t, df.final["ENTRYPOINT"][0])
	imgBin := filepath.Join(img, entry[0])
	state := filepath.Join(img, df.final["WORKDIR"][0])
	etc := filepath.Join(img, "etc", "leconnect")
	for _, dir := range []string{filepath.Dir(imgBin), state, etc} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(imgBin, data, 0o755); err != nil {
		t.Fatal(err)
	}

	tg, leURL, tgURL := startEmulators(t)
	port := freePort(t)
	cfg := fmt.Sprintf(`server:
  listen: 127.0.0.1:%d
  public_url: http://127.0.0.1:%d
liveengage:
  account_id: "%s"
  client_id: %s
  client_secret: ${LE_CLIENT_SECRET}
  domain_api: %s
store:
  path: %s/leconnect.db
log:
  format: json
channels:
  - name: tg
    adapter: telegram
    config:
      bot_token: ${TELEGRAM_BOT_TOKEN}
      api_base_url: %s
      mode: webhook
      secret_token: ${TELEGRAM_SECRET_TOKEN}
`, port, port, accountID, clientID, leURL, state, tgURL)
	cfgPath := filepath.Join(etc, "connector.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	// ENTRYPOINT + CMD, the config path moved under the fresh root.
	argv := append(entry[1:], execForm(t, df.final["CMD"][0])...)
	for i, a := range argv {
		if strings.HasPrefix(a, "/etc/leconnect/") {
			argv[i] = filepath.Join(img, a)
		}
	}
	cmd := exec.Command(imgBin, argv...)
	cmd.Dir = state
	cmd.Env = []string{"LE_CLIENT_SECRET=" + clientSecret, "TELEGRAM_BOT_TOKEN=" + tg.Token(), "TELEGRAM_SECRET_TOKEN=" + tgSecret}
	if os.Geteuid() == 0 {
		uid, gid := imageUser(t, user)
		if err := os.Chown(state, uid, gid); err != nil {
			t.Fatal(err)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	} else {
		t.Logf("not root: running as uid %d instead of the image's %s", os.Geteuid(), user)
	}
	exited, logs := startCmd(t, cmd)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitStatus(t, base+"/readyz", http.StatusOK, exited)

	// /metrics says which build this is, with what the build stage stamped.
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	info := regexp.MustCompile(`(?m)^leconnect_build_info\{(.*)\} 1$`).FindSubmatch(metrics)
	if info == nil {
		t.Fatalf("no leconnect_build_info in /metrics")
	}
	for _, want := range []string{`version="` + df.args["VERSION"] + `"`, `build_date="` + df.args["DATE"] + `"`, `goversion="go`} {
		if !strings.Contains(string(info[1]), want) {
			t.Fatalf("leconnect_build_info{%s}: want %s", info[1], want)
		}
	}

	// HEALTHCHECK CMD [...]: its exec form, against this port.
	hc := df.final["HEALTHCHECK"][0]
	_, list, ok := strings.Cut(hc, "CMD ")
	if !ok {
		t.Fatalf("HEALTHCHECK %s: want an exec-form CMD", hc)
	}
	hcArgv := execForm(t, list)
	for i, a := range hcArgv {
		hcArgv[i] = strings.ReplaceAll(a, "127.0.0.1:8080", fmt.Sprintf("127.0.0.1:%d", port))
	}
	if out, err := exec.Command(filepath.Join(img, hcArgv[0]), hcArgv[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("HEALTHCHECK %q failed: %v\n%s", hcArgv, err, out)
	}

	sig := map[string]syscall.Signal{"SIGTERM": syscall.SIGTERM, "SIGINT": syscall.SIGINT}[df.final["STOPSIGNAL"][0]]
	if sig == 0 {
		t.Fatalf("STOPSIGNAL %s: want SIGTERM or SIGINT, which leconnect shuts down on", df.final["STOPSIGNAL"][0])
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("after %s the core exited with %v", df.final["STOPSIGNAL"][0], err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the core did not stop within 60s of %s", df.final["STOPSIGNAL"][0])
	}
	if got := logs.String(); !strings.Contains(got, `"stopped"`) {
		t.Fatalf("no clean stop in the log:\n%s", got)
	}
}

// startCmd starts the core, its output kept and shown if the test fails;
// exited receives how it ended. The test's end kills it.
func startCmd(t *testing.T, cmd *exec.Cmd) (<-chan error, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("core log:\n%s", logs.String())
		}
	})
	return exited, logs
}

// imageUser is USER uid:gid as numbers (distroless's nonroot is 65532).
func imageUser(t *testing.T, user string) (int, int) {
	t.Helper()
	var uid, gid int
	if _, err := fmt.Sscanf(user, "%d:%d", &uid, &gid); err != nil {
		t.Fatalf("USER %s: want numeric uid:gid (distroless has no /etc/passwd to resolve names in)", user)
	}
	return uid, gid
}

// startEmulators serves the LiveEngage and Telegram emulators on loopback.
func startEmulators(t *testing.T) (*tgemu.Emulator, string, string) {
	t.Helper()
	le, err := liveengage.New(liveengage.Options{AccountID: accountID, ClientID: clientID, ClientSecret: clientSecret, TimeScale: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	leSrv := httptest.NewServer(le.Handler())
	t.Cleanup(func() { leSrv.Close(); le.Close() })
	tg, err := tgemu.New(tgemu.Options{TimeScale: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	tgSrv := httptest.NewServer(tg.Handler())
	t.Cleanup(func() { tgSrv.Close(); tg.Close() })
	return tg, leSrv.URL, tgSrv.URL
}

// waitStatus polls url until it answers want; the bound only keeps a
// broken test from hanging. exited ends it early when the process dies.
func waitStatus(t *testing.T, url string, want int, exited <-chan error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	last := "no answer"
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("the core exited before %s answered %d: %v", url, want, err)
		default:
		}
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == want {
				return
			}
			last = res.Status
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not answer %d within 60s (last: %s)", url, want, last)
}

// TestSystemdUnit: the unit file passes systemd-analyze verify, and the
// daemon speaks sd_notify as Type=notify expects: READY=1 once serving,
// RELOADING=1 then READY=1 around a SIGHUP reload, STOPPING=1 at SIGTERM.
func TestSystemdUnit(t *testing.T) {
	root := repoRoot(t)
	unit, err := os.ReadFile(filepath.Join(root, "packaging", "systemd", "leconnect.service"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("verify", func(t *testing.T) {
		analyze, err := exec.LookPath("systemd-analyze")
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("systemd-analyze is missing (.ci/run installs it)")
			}
			t.Skip("systemd-analyze is not installed")
		}
		// verify checks that the commands exist: point them at the binary
		// the tests built.
		dir := t.TempDir()
		path := filepath.Join(dir, "leconnect.service")
		if err := os.WriteFile(path, bytes.ReplaceAll(unit, []byte("/usr/local/bin/leconnect"), []byte(leconnectBin)), 0o644); err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd := exec.Command(analyze, "verify", path)
		cmd.Stdout, cmd.Stderr = &stderr, &stderr
		if err := cmd.Run(); err != nil || stderr.Len() > 0 {
			// verify exits 0 on some problems (an unknown value is "ignored"): any output is one.
			t.Fatalf("systemd-analyze verify: %v\n%s", err, stderr.String())
		}
	})
	t.Run("sd_notify", func(t *testing.T) {
		if !bytes.Contains(unit, []byte("\nType=notify\n")) {
			t.Fatal("the unit is not Type=notify")
		}
		dir := t.TempDir()
		sock := filepath.Join(dir, "notify")
		conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, leURL, _ := startEmulators(t)
		port := freePort(t)
		cfgPath := filepath.Join(dir, "connector.yaml")
		cfg := fmt.Sprintf("server:\n  listen: 127.0.0.1:%d\n  public_url: http://127.0.0.1:%d\nliveengage:\n  account_id: \"%s\"\n  client_id: %s\n  client_secret: %s\n  domain_api: %s\nstore:\n  path: %s\n",
			port, port, accountID, clientID, clientSecret, leURL, filepath.Join(dir, "leconnect.db"))
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(leconnectBin, "run", "--config", cfgPath)
		cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock)
		exited, _ := startCmd(t, cmd)
		next := func(want string) {
			t.Helper()
			_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second))
			buf := make([]byte, 4096)
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("waiting for %q: %v", want, err)
			}
			if got := string(buf[:n]); !strings.HasPrefix(got, want) {
				t.Fatalf("notification %q; want %q first", got, want)
			}
		}
		next("READY=1")
		waitStatus(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", port), http.StatusOK, exited)
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		next("RELOADING=1")
		next("READY=1")
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		next("STOPPING=1")
		if err := <-exited; err != nil {
			t.Fatalf("after SIGTERM: %v", err)
		}
	})
}
