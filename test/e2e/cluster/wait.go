package cluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// pollInterval is how often the cluster checks a condition it waits for.
const pollInterval = 200 * time.Millisecond

// waitProcess polls check until it succeeds, p exits, ctx ends or the
// start timeout passes; the last two errors carry check's last error and
// the tail of p's log.
func (c *Cluster) waitProcess(ctx context.Context, p *Process, what string, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	defer cancel()
	started := time.Now()
	var last error
	for {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		last = check(cctx)
		ccancel()
		if last == nil {
			c.logf("%s ready after %s", what, time.Since(started).Round(10*time.Millisecond))
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("wait for %s: %w: %s", what, errProcessExited, p.describeExit())
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w (last check: %v); last lines of %s:\n%s",
				what, ctx.Err(), last, p.LogPath(), indent(p.Tail(30)))
		case <-time.After(pollInterval):
		}
	}
}

// insecureHTTP is a client for the health endpoints of processes that
// serve a self-signed certificate on 127.0.0.1.
var insecureHTTP = &http.Client{
	Timeout:   5 * time.Second,
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // health checks on loopback
}

// httpOK returns a check that GETs url and wants status 200 and, when
// want is not empty, a body containing it.
func httpOK(url, want string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := insecureHTTP.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
		}
		if want != "" && !strings.Contains(string(body), want) {
			return fmt.Errorf("GET %s: %q does not contain %q", url, body, want)
		}
		return nil
	}
}

// handedOut holds the ports freePort returned, so that it never returns
// one twice in a test binary (a process may not listen on it yet).
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// freePort returns a TCP port free on 127.0.0.1.
func freePort() (int, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port, nil
		}
	}
	return 0, fmt.Errorf("find a free port: none new after 100 tries")
}

// mergeFlags returns defaults with every flag of extra ("--name=value" or
// "--name") replacing the default of the same name, or appended.
func mergeFlags(defaults, extra []string) []string {
	name := func(flag string) string {
		n, _, _ := strings.Cut(flag, "=")
		return n
	}
	out := append([]string(nil), defaults...)
	for _, e := range extra {
		replaced := false
		for i, d := range out {
			if name(d) == name(e) {
				out[i], replaced = e, true
			}
		}
		if !replaced {
			out = append(out, e)
		}
	}
	return out
}
