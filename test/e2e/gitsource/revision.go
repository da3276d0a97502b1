package gitsource

import (
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// Branch is the branch every commit of a Repo goes to, and the branch
// named in its revisions.
const Branch = "main"

// revisionOf formats a commit as Flux names Git revisions:
// "<branch>@sha1:<hash>".
func revisionOf(hash plumbing.Hash) string {
	return Branch + "@sha1:" + hash.String()
}

// parseRevision returns the commit a revision of this package names. It
// also accepts a bare 40-hex-digit hash.
func parseRevision(revision string) (plumbing.Hash, error) {
	hex := revision
	if i := strings.LastIndex(revision, "@sha1:"); i >= 0 {
		hex = revision[i+len("@sha1:"):]
	}
	if len(hex) != 40 || !plumbing.IsHash(hex) {
		return plumbing.ZeroHash, fmt.Errorf("revision %q: want %s@sha1:<40 hex digits>", revision, Branch)
	}
	return plumbing.NewHash(hex), nil
}
