package policy

import (
	"context"
	"fmt"
)

// RawInput is an admission request whose objects are still the JSON the
// API server sent. ValidateRaw and MutateRaw answer one seen before from
// the decision cache, keyed by a hash of those bytes, without decoding
// them: for a repeated request (kustomize-controller's dry run of an
// unchanged object at every reconcile) decoding the object and hashing its
// canonical form cost more than the rest of the review together. Identical
// bytes are the same document, so this key can only miss where the
// canonical one would hit (metadata.managedFields that changed), never
// answer for another document; and only bytes that decoded once are
// remembered, so a malformed request is refused every time.
type RawInput struct {
	// Input is the request, without Request.Object and Request.OldObject.
	Input
	// Object and OldObject are the objects' JSON; empty for none.
	Object, OldObject []byte
	// Decode turns an object's JSON into the document policies see.
	Decode func(raw []byte) (map[string]any, error)

	decoded bool
}

// DecodeError is an object of a RawInput that Decode refused: the request
// is malformed, not the evaluation failed.
type DecodeError struct {
	Field string // "object" or "oldObject"
	Err   error
}

func (e *DecodeError) Error() string { return fmt.Sprintf("decode %s: %v", e.Field, e.Err) }

func (e *DecodeError) Unwrap() error { return e.Err }

// Decoded returns the input with its objects decoded, decoding them on the
// first call; the error is a *DecodeError.
func (r *RawInput) Decoded() (*Input, error) {
	if r.decoded {
		return &r.Input, nil
	}
	for _, o := range []struct {
		field string
		raw   []byte
		into  *map[string]any
	}{{"object", r.Object, &r.Request.Object}, {"oldObject", r.OldObject, &r.Request.OldObject}} {
		if len(o.raw) == 0 {
			continue
		}
		v, err := r.Decode(o.raw)
		if err != nil {
			return nil, &DecodeError{Field: o.field, Err: err}
		}
		*o.into = v
	}
	r.decoded = true
	return &r.Input, nil
}

// MutateRaw is Mutate for a request whose objects are JSON.
func (e *Engine) MutateRaw(ctx context.Context, r *RawInput) (*Decision, error) {
	return e.decideRaw(ctx, "mutate", r, e.Mutate)
}

// ValidateRaw is Validate for a request whose objects are JSON.
func (e *Engine) ValidateRaw(ctx context.Context, r *RawInput) (*Decision, error) {
	return e.decideRaw(ctx, "validate", r, e.Validate)
}

// decideRaw answers r from the cache by its bytes, or decodes it and
// decides as decide does, remembering the decision under both keys.
func (e *Engine) decideRaw(ctx context.Context, phase string, r *RawInput, decide func(context.Context, *Input) (*Decision, error)) (*Decision, error) {
	key, cacheable := rawKeyOf(phase, r)
	if cacheable {
		if cached, hit := e.cache.get(key); hit {
			e.hits.Add(1)
			return cached, nil
		}
	}
	in, err := r.Decoded()
	if err != nil {
		return nil, err
	}
	d, err := decide(ctx, in)
	if err != nil {
		return d, err
	}
	if cacheable {
		e.cache.put(key, d)
	}
	return d, nil
}
