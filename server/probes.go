package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/go-logr/logr"

	"github.com/fluxgate/fluxgate/policy"
)

// readiness decides whether this replica may receive admission requests.
type readiness struct {
	active         *policy.Active
	policiesSynced func() bool
	cacheSynced    func() bool
	webhookStarted func(*http.Request) error
	certificate    func(*http.Request) error
}

// PolicySetStatus describes the active policy set in /readyz.
type PolicySetStatus struct {
	Generation int64    `json:"generation"`
	Policies   []string `json:"policies"`
	Files      []string `json:"files"`
}

// ReadyStatus is the body of /readyz.
type ReadyStatus struct {
	Ready     bool             `json:"ready"`
	Reason    string           `json:"reason,omitempty"`
	PolicySet *PolicySetStatus `json:"policySet,omitempty"`
}

func (r *readiness) status(req *http.Request) ReadyStatus {
	var st ReadyStatus
	if eng := r.active.Engine(); eng != nil {
		ps := &PolicySetStatus{Generation: r.active.Generation(), Files: eng.Set().Files()}
		for _, p := range eng.Set().Policies() {
			ps.Policies = append(ps.Policies, p.ID)
		}
		st.PolicySet = ps
	}
	switch {
	case st.PolicySet == nil:
		st.Reason = "no policy set loaded yet"
	case !r.policiesSynced():
		st.Reason = "policy ConfigMaps not read yet"
	case !r.cacheSynced():
		st.Reason = "informer caches for related objects not synced yet"
	default:
		if err := r.certificate(req); err != nil {
			st.Reason = fmt.Sprintf("webhook certificate: %v", err)
		} else if err := r.webhookStarted(req); err != nil {
			st.Reason = fmt.Sprintf("webhook server not serving yet: %v", err)
		} else {
			st.Ready = true
		}
	}
	return st
}

// probeServer serves /healthz and /readyz. It replaces the manager's own
// health probes because readiness here reports the active policy set, not
// only ok.
type probeServer struct {
	addr  string
	ready *readiness
	log   logr.Logger
}

func (p *probeServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, req *http.Request) {
		st := p.ready.status(req)
		w.Header().Set("Content-Type", "application/json")
		if !st.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(st)
	})
	return mux
}

// Start implements manager.Runnable.
func (p *probeServer) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("listen for health probes on %s: %w", p.addr, err)
	}
	srv := &http.Server{Handler: p.handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	p.log.Info("serving health probes", "address", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve health probes: %w", err)
	}
	return nil
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: every
// replica answers its own probes.
func (p *probeServer) NeedLeaderElection() bool { return false }
