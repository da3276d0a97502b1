package policy

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
)

// A RawInput is answered from the cache by its bytes: the same bytes give
// the decision evaluated first without decoding them again; other bytes,
// even of the same document, decode and evaluate (or hit the canonical
// key); a malformed object is a DecodeError every time and never cached.
func TestValidateRaw(t *testing.T) {
	ctx := context.Background()
	dep := deployment("apps", 3, nil, map[string]any{"team": "unknown"})
	body, err := json.Marshal(dep)
	if err != nil {
		t.Fatal(err)
	}
	decodes := 0
	raw := func(obj []byte) *RawInput {
		in := request(dep)
		in.Request.Object = nil
		return &RawInput{Input: *in, Object: obj, Decode: func(b []byte) (map[string]any, error) {
			decodes++
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				return nil, err
			}
			return m, nil
		}}
	}
	eng := testEngine(t, nil)
	want, err := eng.Validate(ctx, request(dep))
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Findings) == 0 {
		t.Fatal("the request must have findings for the comparison to mean anything")
	}
	eng = testEngine(t, nil)

	tests := []struct {
		name        string
		obj         []byte
		decodes     int // by this request
		hits        int64
		decodeError bool
	}{
		{name: "first time: decoded and evaluated", obj: body, decodes: 1},
		{name: "the same bytes: from the cache, not decoded", obj: body, decodes: 0, hits: 1},
		{name: "the same document written otherwise: decoded, canonical hit", obj: append([]byte(" "), body...), decodes: 1, hits: 2},
		{name: "malformed: refused", obj: []byte(`{"kind": `), decodes: 1, hits: 2, decodeError: true},
		{name: "malformed again: refused again, not cached", obj: []byte(`{"kind": `), decodes: 1, hits: 2, decodeError: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := raw(tc.obj)
			before := decodes
			d, err := eng.ValidateRaw(ctx, r)
			var de *DecodeError
			if tc.decodeError != errors.As(err, &de) {
				t.Fatalf("err = %v, want a DecodeError %v", err, tc.decodeError)
			}
			if decodes-before != tc.decodes {
				t.Errorf("decodes = %d, want %d", decodes-before, tc.decodes)
			}
			if hits, _ := eng.CacheStats(); hits != tc.hits {
				t.Errorf("hits = %d, want %d", hits, tc.hits)
			}
			if tc.decodeError {
				if de.Field != "object" {
					t.Errorf("field = %q", de.Field)
				}
				return
			}
			if len(d.Findings) != len(want.Findings) || d.Findings[0].Message != want.Findings[0].Message {
				t.Errorf("findings %v, want %v", d.Findings, want.Findings)
			}
			// Decoded after a cached answer gives the object, once.
			in, err := r.Decoded()
			if err != nil || in.Request.Object["kind"] != "Deployment" {
				t.Fatalf("Decoded() = %v, %v", in, err)
			}
			once := decodes
			if _, err := r.Decoded(); err != nil || decodes != once {
				t.Errorf("a second Decoded() decoded again")
			}
		})
	}
}

// Raw and canonical keys never meet, and the raw key covers what the
// canonical one covers besides the objects.
func TestRawKeyOf(t *testing.T) {
	in := request(deployment("apps", 3, nil, nil))
	in.Request.Object = nil
	r := &RawInput{Input: *in, Object: []byte(`{}`)}
	base, ok := rawKeyOf("validate", r)
	if !ok {
		t.Fatal("not cacheable")
	}
	canonical, _ := keyOf("validate", &r.Input)
	if base == canonical {
		t.Error("the raw key equals the canonical key")
	}
	for name, change := range map[string]func(r *RawInput){
		"object":      func(r *RawInput) { r.Object = []byte(`{ }`) },
		"old object":  func(r *RawInput) { r.OldObject = []byte(`{}`) },
		"user":        func(r *RawInput) { r.Request.UserInfo.Username = "someone" },
		"dry run":     func(r *RawInput) { r.Request.DryRun = true },
		"maintenance": func(r *RawInput) { r.Maintenance.Active = true },
		"phase":       nil,
	} {
		c := *r
		phase := "validate"
		if change == nil {
			phase = "mutate"
		} else {
			change(&c)
		}
		if k, _ := rawKeyOf(phase, &c); k == base {
			t.Errorf("%s: same raw key", name)
		}
	}
}
