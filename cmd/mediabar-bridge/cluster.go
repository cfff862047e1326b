package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// This file runs real `mediabar-bridge serve` processes on one machine, for TestReplicas and
// for the chaos command: a config file, the environment that wires a replica to Redis and
// the mocks, start on free ports, wait for /readyz, SIGKILL and restart on the same ports.

// clusterSettings is what a replica's config file and environment say.
type clusterSettings struct {
	Site, Queue, User, Password string
	// Queues are extra queue lines (YAML, already indented) for the site; empty: Queue only,
	// without intake.
	Queues        string
	RedisURL      string
	KeyPrefix     string
	ACDURL        string
	CRMURL        string
	WebhookSecret string // "whsec_..."
	AdminToken    string // "" keeps the demo token (serve then needs --allow-demo-secrets)
	// Extra is appended to the config file's top level (YAML), to tune timers per user.
	Extra string
	// ReadyOnGreen sets acd.ready_on_green.
	ReadyOnGreen bool
}

// writeClusterConfig writes the replicas' shared config file into dir. The timers are short so
// that a killed replica's work moves on within seconds: reclaim, lease and stuck times, the
// CRM event lock and long poll.
func writeClusterConfig(dir string, s clusterSettings) (string, error) {
	queues := s.Queues
	if queues == "" {
		queues = "        - id: " + s.Queue + "\n          name: Support\n"
	}
	cfg := `log_level: warn
redis:
  reclaim_idle: 300ms
acd:
  ready_on_green: ` + strconv.FormatBool(s.ReadyOnGreen) + `
  client:
    call_timeout: 1s
    backoff_max: 200ms
crm:
  pop_budget: 1s
  poll_wait: 1s
  events_lock_ttl: 2s
  client:
    call_timeout: 1s
    backoff_max: 100ms
  sites:
    - name: ` + s.Site + `
      user_name: ` + s.User + `
      queues:
` + queues + `pop:
  lease_ttl: 2s
reconciler:
  every: 500ms
  stuck_after: 3s
` + s.Extra
	path := filepath.Join(dir, "bridge.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return "", fmt.Errorf("write bridge config: %w", err)
	}
	return path, nil
}

// clusterEnv is the environment every replica of s runs with (secrets come this way, never
// in the file).
func clusterEnv(cfgPath string, s clusterSettings) []string {
	site := siteEnvName(s.Site)
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"MBB_CONFIG=" + cfgPath,
		"REDIS_URL=" + s.RedisURL,
		"MBB_REDIS_KEY_PREFIX=" + s.KeyPrefix,
		"MBB_ACD_BASE_URL=" + s.ACDURL,
		"MBB_ACD_WEBHOOK_SECRETS=" + s.WebhookSecret,
		"MBB_CRM_" + site + "_BASE_URL=" + s.CRMURL,
		"MBB_CRM_" + site + "_PASSWORD=" + s.Password,
	}
	if s.AdminToken != "" {
		env = append(env, "MBB_ADMIN_TOKEN="+s.AdminToken)
	}
	return env
}

// siteEnvName is a site name as the environment overrides spell it (config/env.go).
func siteEnvName(site string) string {
	b := []byte(site)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			b[i] = '_'
		}
	}
	return string(b)
}

// replica is one `mediabar-bridge serve` process. Its ports survive a restart, so clients
// and the webhook relay keep their addresses.
type replica struct {
	name, url, opsURL string
	bin               string
	env               []string
	log               *lockedBuffer
	// logPath, when set, also appends the process's output to this file (kept across
	// restarts), for reading after a run.
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// newReplica picks free ports for a replica; start runs it.
func newReplica(bin, name string, env []string) (*replica, error) {
	listen, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	ops, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	env = append(append([]string(nil), env...), "MBB_LISTEN="+listen, "MBB_OPS_LISTEN="+ops)
	return &replica{name: name, url: "http://" + listen, opsURL: "http://" + ops, bin: bin, env: env,
		log: &lockedBuffer{max: 256 << 10}}, nil
}

// start runs the process and waits (up to within) for its /readyz.
func (r *replica) start(ctx context.Context, within time.Duration) error {
	cmd := exec.Command(r.bin, "serve", "--allow-demo-secrets")
	cmd.Env = r.env
	cmd.Stdout, cmd.Stderr = r.log, r.log
	var logFile *os.File
	if r.logPath != "" {
		f, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("replica %s log: %w", r.name, err)
		}
		logFile = f
		cmd.Stdout = io.MultiWriter(r.log, f)
		cmd.Stderr = cmd.Stdout
	}
	if err := cmd.Start(); err != nil {
		if logFile != nil {
			logFile.Close()
		}
		return fmt.Errorf("start replica %s: %w", r.name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // also waits for the output copy, so the file is closed after it
		if logFile != nil {
			logFile.Close()
		}
		close(exited)
	}()
	r.mu.Lock()
	r.cmd, r.exited = cmd, exited
	r.mu.Unlock()

	deadline := time.Now().Add(within)
	hc := &http.Client{Timeout: time.Second}
	for {
		resp, err := hc.Get(r.opsURL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("replica %s exited before ready: %s", r.name, tail(r.log.String(), 2000))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replica %s not ready within %s: %s", r.name, within, tail(r.log.String(), 2000))
		}
	}
}

// pid is the running process's id (0 before start).
func (r *replica) pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil || r.cmd.Process == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

// kill sends SIGKILL and waits for the process to be gone: no shutdown hook runs, as when a
// node dies.
func (r *replica) kill() {
	r.mu.Lock()
	cmd, exited := r.cmd, r.exited
	r.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// alive reports whether the process is running.
func (r *replica) alive() bool {
	r.mu.Lock()
	exited := r.exited
	r.mu.Unlock()
	if exited == nil {
		return false
	}
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

// startReplicas starts one replica per name (concurrently; each waits for its /readyz).
func startReplicas(ctx context.Context, bin string, names []string, envOf func(name string) []string, logDir string) ([]*replica, error) {
	out := make([]*replica, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		r, err := newReplica(bin, name, envOf(name))
		if err != nil {
			return nil, err
		}
		if logDir != "" {
			r.logPath = filepath.Join(logDir, "replica-"+name+".log")
		}
		out[i] = r
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = r.start(ctx, 30*time.Second) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, r := range out {
			r.kill()
		}
		return nil, err
	}
	return out, nil
}

// freeLoopbackAddr returns a loopback address that was free a moment ago.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// lockedBuffer is a buffer safe for a child's stdout and stderr at once. With max > 0 it
// keeps only about the last max bytes, so a long chaos run's replica logs stay bounded.
type lockedBuffer struct {
	mu  sync.Mutex
	b   bytes.Buffer
	max int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max > 0 && l.b.Len()+len(p) > l.max {
		keep := append([]byte(nil), l.b.Bytes()[l.b.Len()/2:]...)
		l.b.Reset()
		l.b.Write(keep)
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
