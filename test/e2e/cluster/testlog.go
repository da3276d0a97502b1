package cluster

import (
	"io"
	"strings"
	"sync"
	"testing"
)

// TestLog returns a writer for [Options.Log] that passes each line to
// t.Log, and drops what comes once the test (and its cleanups registered
// after this call, such as [Cluster.Stop]) has finished.
func TestLog(t testing.TB) io.Writer {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.done = true
	})
	return w
}

// testWriter is the writer of TestLog.
type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

// Write logs p, without its final newline, unless the test is over.
func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Helper()
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}
