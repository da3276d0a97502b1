package webhook

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/go-logr/logr"
)

func TestZZSeeds(t *testing.T) {
	opts := Options{Policies: builtinActive(t), Related: &fakeRelated{objs: nil}}
	hs := map[string]interface{ ServeHTTP2() }{}
	_ = hs
	m := NewHTTPHandler("m", NewMutator(opts), nil, logr.Discard())
	v := NewHTTPHandler("v", NewValidator(opts), nil, logr.Discard())
	files, _ := filepath.Glob("testdata/fuzz/FuzzHTTPHandler/*")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		line := strings.Split(string(b), "\n")[1]
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(line, "[]byte("), ")"))
		if err != nil { t.Fatal(f, err) }
		wm := post(m, "application/json", []byte(s))
		wv := post(v, "application/json", []byte(s))
		t.Logf("%s: mutate %d %.200s | validate %d %.300s", filepath.Base(f), wm.Code, wm.Body, wv.Code, wv.Body)
	}
}
