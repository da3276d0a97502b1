package webhook

import (
	"bytes"
	"encoding/json"
	"encoding/json/jsontext"
	jsonv2 "encoding/json/v2"
	"errors"
	"fmt"
	"io"
	"sync"

	admissionv1 "k8s.io/api/admission/v1"
)

// The decoders below read JSON as encoding/json (v1) does, which the API
// machinery uses, but in one pass of encoding/json/jsontext, several times
// faster than v1 or sigs.k8s.io/json: a name that appears twice keeps its
// last value, and invalid UTF-8 in a string becomes U+FFFD.
var decodeOptions = jsonv2.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))

// unmarshalReview decodes an AdmissionReview body: member names match their
// fields case-sensitively, as the API machinery decodes (sigs.k8s.io/json's
// UnmarshalCaseSensitivePreserveInts), so "Request" is not "request".
func unmarshalReview(body []byte, review *admissionv1.AdmissionReview) error {
	return jsonv2.Unmarshal(body, review, decodeOptions)
}

// decodeObject decodes one embedded object. Numbers stay json.Number, so
// integers beyond 2^53 keep their value; the engine accepts them. Empty
// raw (no object) or null gives nil.
//
// raw is copied into one string, and every name and string value without
// escapes is a piece of it, so the strings of an object cost one
// allocation; they keep that string alive only as long as the object.
func decodeObject(raw []byte) (map[string]any, error) {
	return decode(raw, false)
}

// decodeForPolicies decodes an object as decodeObject does but leaves out
// metadata.managedFields, which no policy sees (the engine drops them),
// and which are often the larger part of a real object: the API server
// sends them in every review, one nested map per field each manager set.
func decodeForPolicies(raw []byte) (map[string]any, error) {
	return decode(raw, true)
}

func decode(raw []byte, skipManagedFields bool) (map[string]any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	dec := decoders.Get().(*jsontext.Decoder)
	dec.Reset(bytes.NewBuffer(raw), decodeOptions)
	defer func() {
		dec.Reset(emptyReader{})
		decoders.Put(dec)
	}()
	d := objectDecoder{dec: dec, src: string(raw), skipManagedFields: skipManagedFields}
	var obj map[string]any
	switch d.dec.PeekKind() {
	case '{':
		v, err := d.value(atRoot)
		if err != nil {
			return nil, err
		}
		obj = v.(map[string]any)
	case 'n':
		if _, err := d.dec.ReadToken(); err != nil {
			return nil, err
		}
	default:
		tok, err := d.dec.ReadToken()
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("got a JSON %s, want an object", kindName(tok.Kind()))
	}
	if _, err := d.dec.ReadToken(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the object")
	}
	return obj, nil
}

// decoders are reused: a jsontext.Decoder's buffers and state stacks
// cost more allocations than a small object's values.
var decoders = sync.Pool{New: func() any { return jsontext.NewDecoder(emptyReader{}) }}

// emptyReader is what a pooled decoder reads, so it holds on to no
// request's bytes.
type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, io.EOF }

// objectDecoder decodes src, read by dec, into map[string]any, []any,
// string, json.Number, bool and nil.
type objectDecoder struct {
	dec               *jsontext.Decoder
	src               string
	skipManagedFields bool
}

// where says where in the object a value is, as far as the decoder cares.
type where int

const (
	elsewhere  where = iota
	atRoot           // the object itself
	atMetadata       // its metadata
)

// value decodes the next value, found at w.
func (d *objectDecoder) value(w where) (any, error) {
	dec := d.dec
	switch dec.PeekKind() {
	case '{':
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		m := map[string]any{}
		for dec.PeekKind() == '"' {
			key, err := d.string()
			if err != nil {
				return nil, err
			}
			in := elsewhere
			switch {
			case w == atRoot && key == "metadata":
				in = atMetadata
			case w == atMetadata && key == "managedFields" && d.skipManagedFields:
				if err := dec.SkipValue(); err != nil {
					return nil, err
				}
				continue
			}
			v, err := d.value(in)
			if err != nil {
				return nil, err
			}
			m[key] = v
		}
		if _, err := dec.ReadToken(); err != nil { // '}', or the syntax error
			return nil, err
		}
		return m, nil
	case '[':
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		a := []any{}
		for k := dec.PeekKind(); k != ']' && k != 0; k = dec.PeekKind() {
			v, err := d.value(elsewhere)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		if _, err := dec.ReadToken(); err != nil { // ']', or the syntax error
			return nil, err
		}
		return a, nil
	case '"':
		return d.string()
	}
	v, err := dec.ReadValue()
	if err != nil {
		return nil, err
	}
	switch v.Kind() {
	case '0':
		return json.Number(d.piece(v)), nil
	case 't':
		return true, nil
	case 'f':
		return false, nil
	}
	return nil, nil // 'n'
}

// string decodes the next value or name, a JSON string.
func (d *objectDecoder) string() (string, error) {
	v, err := d.dec.ReadValue()
	if err != nil {
		return "", err
	}
	if !plain(v) {
		var s string
		if err := jsonv2.Unmarshal(v, &s, decodeOptions); err != nil {
			return "", err
		}
		return s, nil
	}
	s := d.piece(v)
	return s[1 : len(s)-1], nil
}

// piece returns the piece of src that v, just read, holds.
func (d *objectDecoder) piece(v jsontext.Value) string {
	end := int(d.dec.InputOffset())
	return d.src[end-len(v) : end]
}

// plain reports whether a quoted JSON string holds only printable ASCII
// without escapes, and so means its own bytes.
func plain(v jsontext.Value) bool {
	for _, c := range v[1 : len(v)-1] {
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return false
		}
	}
	return true
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "string"
	case '0':
		return "number"
	case 't', 'f':
		return "boolean"
	case '[':
		return "array"
	}
	return "value"
}
