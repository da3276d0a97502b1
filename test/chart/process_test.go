package chart

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fluxgate/fluxgate/test/e2e/install"
)

// fluxgateBinary returns $FLUXGATE_BIN (make test passes bin/fluxgate), or
// builds cmd/fluxgate into the test's temporary directory.
func fluxgateBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("FLUXGATE_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "fluxgate")
	cmd := exec.Command("go", "build", "-o", bin, "../../cmd/fluxgate")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build fluxgate: %v\n%s", err, out)
	}
	return bin
}

// process is fluxgate serve running as a child process; it is an
// install.Process.
type process struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan error
}

// startProcess runs cmd, its output kept in memory, and kills it when the
// test ends.
func startProcess(t *testing.T, cmd *exec.Cmd) (*process, error) {
	p := &process{cmd: cmd, logs: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(p.Kill)
	return p, nil
}

// Exited reports whether the process has ended.
func (p *process) Exited() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM, as the kubelet does, and SIGKILL after grace.
func (p *process) Stop(grace time.Duration) {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
	case <-time.After(grace):
		p.Kill()
	}
}

// Kill sends SIGKILL and waits for the end.
func (p *process) Kill() {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Kill()
	err := <-p.done
	p.done <- err
}

// Tail returns the last n lines of the process's output.
func (p *process) Tail(n int) string { return tail(p.logs.String(), n) }

// eventually polls ok every 200 ms for up to a minute, failing with the
// last error and fluxgate's logs.
func eventually(t *testing.T, fg *install.Fluxgate, what string, ok func(ctx context.Context) error) {
	t.Helper()
	ctx := context.Background()
	var last error
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if last = ok(ctx); last == nil {
			return
		}
	}
	t.Fatalf("%s: not within a minute (last: %v)\nfluxgate logs:\n%s", what, last, fg.Tail(60))
}

func tail(s string, lines int) string {
	all := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(all) > lines {
		all = append([]string{fmt.Sprintf("... %d lines before", len(all)-lines)}, all[len(all)-lines:]...)
	}
	return strings.Join(all, "\n")
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
