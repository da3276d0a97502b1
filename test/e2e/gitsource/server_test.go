package gitsource

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
)

// get fetches a URL as kustomize-controller does, a plain GET.
func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// TestServer checks that each revision is served at its own URL on
// 127.0.0.1, as bytes matching the digest announced, holding the files
// of that revision, and that nothing else is served.
func TestServer(t *testing.T) {
	repo, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(repo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	if !strings.HasPrefix(srv.URL(), "http://127.0.0.1:") {
		t.Fatalf("server at %s, want 127.0.0.1", srv.URL())
	}
	trees := []map[string]string{
		{"app.yaml": "replicas: 1\n"},
		{"app.yaml": "replicas: 2\n", "extra/cm.yaml": "kind: ConfigMap\n"},
	}
	var arts []Artifact
	for i, files := range trees {
		rev, err := repo.Commit(files, "rev")
		if err != nil {
			t.Fatal(err)
		}
		art, err := srv.Artifact(rev)
		if err != nil {
			t.Fatal(err)
		}
		if again, err := srv.Artifact(rev); err != nil || again != art {
			t.Fatalf("rev %d: second Artifact() = %+v, %v; want %+v", i, again, err, art)
		}
		if art.Revision != rev || art.URL != srv.URL()+"/"+art.Path {
			t.Fatalf("rev %d: artifact %+v", i, art)
		}
		arts = append(arts, art)
	}
	if arts[0].URL == arts[1].URL || arts[0].Digest == arts[1].Digest {
		t.Fatalf("two revisions share a URL or digest: %+v", arts)
	}
	for i, art := range arts {
		code, body := get(t, art.URL)
		if code != http.StatusOK {
			t.Fatalf("rev %d: GET %s: %d", i, art.URL, code)
		}
		if got := sha256Digest(body); got != art.Digest {
			t.Errorf("rev %d: served bytes have digest %s, announced %s", i, got, art.Digest)
		}
		if int64(len(body)) != art.Size {
			t.Errorf("rev %d: served %d bytes, announced %d", i, len(body), art.Size)
		}
		if files := untarFlux(t, body); !maps.Equal(files, trees[i]) {
			t.Errorf("rev %d: served %v, want %v", i, files, trees[i])
		}
		if hits := srv.Hits(art); hits != 1 {
			t.Errorf("rev %d: %d hits, want 1", i, hits)
		}
	}
	for _, path := range []string{"/", "/artifacts/unknown/" + strings.Repeat("0", 64) + ".tar.gz"} {
		if code, _ := get(t, srv.URL()+path); code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, code)
		}
	}
}
