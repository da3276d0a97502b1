package chart

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
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

// impersonatingKubeconfig writes a copy of the admin kubeconfig whose user
// acts as the ServiceAccount: the process then has the chart's RBAC and
// nothing else.
func impersonatingKubeconfig(t *testing.T, adminKubeconfig []byte, namespace, serviceAccount string) string {
	t.Helper()
	cfg, err := clientcmd.Load(adminKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range cfg.AuthInfos {
		auth.Impersonate = "system:serviceaccount:" + namespace + ":" + serviceAccount
		auth.ImpersonateGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"}
	}
	path := filepath.Join(t.TempDir(), "fluxgate.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// process is fluxgate serve running as a child process.
type process struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan error
}

// startFluxgate runs bin with args, its output kept in logs.
func startFluxgate(t *testing.T, bin string, args []string) *process {
	t.Helper()
	p := &process{logs: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	p.cmd.Env = append(os.Environ(), "KUBECONFIG=")
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start fluxgate: %v", err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// exited reports the process's end, if it has ended.
func (p *process) exited() (error, bool) {
	select {
	case err := <-p.done:
		p.done <- err
		return err, true
	default:
		return nil, false
	}
}

// stop sends SIGTERM, as the kubelet does, and kills after 20 s.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if _, ended := p.exited(); ended {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Errorf("fluxgate serve exited with %v after SIGTERM\n%s", err, p.logs)
		}
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Errorf("fluxgate serve ignored SIGTERM for 20 s\n%s", p.logs)
	}
}

// eventually polls ok every 200 ms for up to a minute, failing with the
// last error and the process's logs.
func (p *process) eventually(t *testing.T, what string, ok func(ctx context.Context) error) {
	t.Helper()
	ctx := context.Background()
	var last error
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err, ended := p.exited(); ended {
			t.Fatalf("%s: fluxgate serve exited: %v\n%s", what, err, p.logs)
		}
		if last = ok(ctx); last == nil {
			return
		}
	}
	t.Fatalf("%s: not within a minute (last: %v)\nfluxgate logs:\n%s", what, last, tail(p.logs.String(), 60))
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

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
