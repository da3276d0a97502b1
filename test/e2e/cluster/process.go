package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// StopGrace is how long [Process.Stop] waits after SIGTERM before it sends
// SIGKILL.
const StopGrace = 5 * time.Second

// Process is a program the cluster started and watches. Its standard
// output and error go to a log file unless the command set them.
type Process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File

	done     chan struct{}
	waitErr  error
	stopOnce sync.Once
	stopping chan struct{}
}

// startProcess starts cmd as name, its output appended to logPath unless
// cmd.Stdout or cmd.Stderr are set. onExit, when not nil, is called in its
// own goroutine if the process ends before Stop was called.
func startProcess(name string, cmd *exec.Cmd, logPath string, onExit func(*Process)) (*Process, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if cmd.Stdout == nil {
		cmd.Stdout = f
	}
	if cmd.Stderr == nil {
		cmd.Stderr = f
	}
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, cmd.Path, err)
	}
	p := &Process{
		name:     name,
		cmd:      cmd,
		logPath:  logPath,
		logFile:  f,
		done:     make(chan struct{}),
		stopping: make(chan struct{}),
	}
	go func() {
		p.waitErr = cmd.Wait()
		f.Close()
		close(p.done)
		select {
		case <-p.stopping:
		default:
			if onExit != nil {
				onExit(p)
			}
		}
	}()
	return p, nil
}

// Name returns the name the process was started under.
func (p *Process) Name() string { return p.name }

// PID returns the process ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// LogPath returns the file holding the process's output.
func (p *Process) LogPath() string { return p.logPath }

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err returns how the process ended (nil for a zero exit status), or nil
// while it runs.
func (p *Process) Err() error {
	if !p.Exited() {
		return nil
	}
	return p.waitErr
}

// Tail returns the last n lines of the process's log.
func (p *Process) Tail(n int) string {
	return tailFile(p.logPath, n)
}

// Stop sends SIGTERM to the process, then SIGKILL if it has not ended
// after grace, and waits for it to end. It is idempotent.
func (p *Process) Stop(grace time.Duration) {
	p.stopOnce.Do(func() { close(p.stopping) })
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Kill sends SIGKILL, as a crash or an OOM kill would end it, and waits
// for the process to end.
func (p *Process) Kill() {
	p.stopOnce.Do(func() { close(p.stopping) })
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// describeExit says how the process ended, with the tail of its log.
func (p *Process) describeExit() string {
	return fmt.Sprintf("%s (pid %d) exited: %v; last lines of %s:\n%s",
		p.name, p.PID(), p.waitErr, p.logPath, indent(p.Tail(30)))
}

// tailFile returns the last n lines of a file, or a note why it cannot.
func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	const window = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size() > window {
		_, _ = f.Seek(st.Size()-window, io.SeekStart)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// indent prefixes every line of s with four spaces.
func indent(s string) string {
	var b bytes.Buffer
	for _, line := range strings.Split(s, "\n") {
		b.WriteString("    ")
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return strings.TrimRight(b.String(), "\n")
}

// errProcessExited is wrapped by the errors that report a process which
// ended while the cluster waited for it.
var errProcessExited = errors.New("process exited")
