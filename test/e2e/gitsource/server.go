package gitsource

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Archiver makes the tarball of a revision; *Repo is one.
type Archiver interface {
	Archive(revision string) ([]byte, error)
}

// Artifact describes one tarball a Server serves: the fields of a Flux
// source's status.artifact.
type Artifact struct {
	// URL is where a plain HTTP GET returns the tarball.
	URL string
	// Revision is the revision the tarball holds, "main@sha1:<hash>".
	Revision string
	// Digest is "sha256:<lowercase hex>" of exactly the bytes served.
	Digest string
	// Path is the URL's path without its leading slash.
	Path string
	// Size is the tarball's length in bytes.
	Size int64
}

// Server serves the tarballs of revisions over plain HTTP on 127.0.0.1,
// each at its own stable URL. It serves only the revisions it was asked
// to describe with Artifact (or Publish); any other path answers 404.
type Server struct {
	src  Archiver
	ln   net.Listener
	http *http.Server
	base string

	mu    sync.Mutex
	blobs map[string][]byte   // URL path -> tarball
	arts  map[string]Artifact // revision -> artifact
	hits  map[string]int      // URL path -> successful GETs
	done  chan struct{}
	err   error
}

// NewServer starts a Server for src's revisions on a free port of
// 127.0.0.1. Close stops it.
func NewServer(src Archiver) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the artifact server: %w", err)
	}
	s := &Server{
		src:   src,
		ln:    ln,
		base:  "http://" + ln.Addr().String(),
		blobs: map[string][]byte{},
		arts:  map[string]Artifact{},
		hits:  map[string]int{},
		done:  make(chan struct{}),
	}
	s.http = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
		}
	}()
	return s, nil
}

// URL returns the server's base URL, "http://127.0.0.1:<port>".
func (s *Server) URL() string { return s.base }

// Artifact makes (once) the tarball of revision, starts serving it and
// describes it. Later calls for the same revision return the same
// artifact: the bytes served never change.
func (s *Server) Artifact(revision string) (Artifact, error) {
	s.mu.Lock()
	art, ok := s.arts[revision]
	s.mu.Unlock()
	if ok {
		return art, nil
	}
	blob, err := s.src.Archive(revision)
	if err != nil {
		return Artifact{}, fmt.Errorf("archive %s: %w", revision, err)
	}
	sum := sha256.Sum256(blob)
	digest := hex.EncodeToString(sum[:])
	path := "artifacts/" + pathSafe(revision) + "/" + digest + ".tar.gz"
	art = Artifact{
		URL:      s.base + "/" + path,
		Revision: revision,
		Digest:   "sha256:" + digest,
		Path:     path,
		Size:     int64(len(blob)),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.arts[revision]; ok {
		return prev, nil
	}
	s.arts[revision] = art
	s.blobs["/"+path] = blob
	return art, nil
}

// Hits returns how many times the tarball of an artifact was served
// with status 200 (HEAD included).
func (s *Server) Hits(art Artifact) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits["/"+art.Path]
}

// Close stops the server at once and returns the error that stopped it
// earlier, if any.
func (s *Server) Close() error {
	if err := s.http.Close(); err != nil {
		return fmt.Errorf("close the artifact server: %w", err)
	}
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return fmt.Errorf("artifact server: %w", s.err)
	}
	return nil
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	s.mu.Lock()
	blob, ok := s.blobs[r.URL.Path]
	if ok {
		s.hits[r.URL.Path]++
	}
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/gzip")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(blob))
}

// pathSafe turns a revision into one URL path segment: letters, digits,
// '.', '_' and '-' stay, anything else becomes '-'.
func pathSafe(revision string) string {
	return strings.Map(func(c rune) rune {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
			return c
		}
		return '-'
	}, revision)
}
