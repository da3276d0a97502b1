package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fluxgate/fluxgate/policy"
)

// /readyz answers 200 only when everything a replica needs to judge
// requests is in place, and otherwise says what is missing first.
func TestReadiness(t *testing.T) {
	loaded := &policy.Active{}
	mods, err := policy.Load()
	if err != nil {
		t.Fatal(err)
	}
	conf, err := policy.LoadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loaded.Reload(context.Background(), policy.WithoutTests(mods), conf); err != nil {
		t.Fatal(err)
	}
	yes := func() bool { return true }
	no := func() bool { return false }
	fine := func(*http.Request) error { return nil }
	broken := func(*http.Request) error { return errors.New("not yet") }
	tests := []struct {
		name       string
		ready      readiness
		wantStatus int
		wantReason string
	}{
		{"no policy set", readiness{active: &policy.Active{}, policiesSynced: yes, cacheSynced: yes, webhookStarted: fine, certificate: fine},
			http.StatusServiceUnavailable, "no policy set"},
		{"policy ConfigMaps unread", readiness{active: loaded, policiesSynced: no, cacheSynced: yes, webhookStarted: fine, certificate: fine},
			http.StatusServiceUnavailable, "policy ConfigMaps"},
		{"caches not synced", readiness{active: loaded, policiesSynced: yes, cacheSynced: no, webhookStarted: fine, certificate: fine},
			http.StatusServiceUnavailable, "informer caches"},
		{"certificate not issued or injected", readiness{active: loaded, policiesSynced: yes, cacheSynced: yes, webhookStarted: fine, certificate: broken},
			http.StatusServiceUnavailable, "webhook certificate"},
		{"webhook server not serving", readiness{active: loaded, policiesSynced: yes, cacheSynced: yes, webhookStarted: broken, certificate: fine},
			http.StatusServiceUnavailable, "webhook server"},
		{"ready", readiness{active: loaded, policiesSynced: yes, cacheSynced: yes, webhookStarted: fine, certificate: fine},
			http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &probeServer{ready: &tt.ready}
			rec := httptest.NewRecorder()
			p.handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if rec.Code != tt.wantStatus {
				t.Errorf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), tt.wantReason) {
				t.Errorf("body %s lacks %q", rec.Body, tt.wantReason)
			}
		})
	}
}
