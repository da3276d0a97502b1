package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	sigsjson "sigs.k8s.io/json"
)

// v1Object decodes raw the way the handlers did before decodeObject:
// encoding/json with UseNumber, one object and nothing after it.
func v1Object(raw []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the object")
	}
	return obj, nil
}

var objectCases = []struct {
	name string
	raw  string
	ok   bool
}{
	{"empty", "", true},
	{"blank", " \n\t", true},
	{"null", "null", true},
	{"empty object", "{}", true},
	{"nested", `{"a":{"b":[1,"x",true,false,null,{"c":[]}]},"d":-1.5e3}`, true},
	{"big integer keeps its digits", `{"n":123456789012345678901234567890}`, true},
	{"escapes", `{"s":"a\"b\\c\/d\n\t\u00e9\ud83d\ude00","k\u0065y":1}`, true},
	{"non-ASCII", `{"s":"grüße 日本"}`, true},
	{"invalid UTF-8 becomes U+FFFD", "{\"s\":\"a\xffb\"}", true},
	{"lone surrogate becomes U+FFFD", `{"s":"\ud800x"}`, true},
	{"duplicate name keeps the last", `{"a":1,"a":2}`, true},
	{"whitespace everywhere", " { \"a\" : [ 1 , 2 ] } ", true},
	{"managedFields", `{"metadata":{"name":"a","managedFields":[{"manager":"m"}]}}`, true},
	{"array", "[1]", false},
	{"string", `"x"`, false},
	{"number", "1", false},
	{"trailing data", `{}{}`, false},
	{"trailing garbage", `{} x`, false},
	{"truncated", `{"a":[1,2`, false},
	{"trailing comma", `{"a":1,}`, false},
	{"single quotes", `{'a':1}`, false},
	{"bad number", `{"a":01}`, false},
	{"bad literal", `{"a":tru}`, false},
	{"control character in a string", "{\"a\":\"x\x01\"}", false},
	{"bad escape", `{"a":"\q"}`, false},
}

// decodeForPolicies decodes what decodeObject does, without
// metadata.managedFields.
func TestDecodeForPoliciesLeavesOutManagedFields(t *testing.T) {
	for _, tc := range []struct {
		name, raw, want string
	}{
		{"managedFields left out", `{"metadata":{"name":"a","managedFields":[{"manager":"m","fieldsV1":{"f:spec":{}}}],"uid":"u"},"spec":{"x":1}}`, `{"metadata":{"name":"a","uid":"u"},"spec":{"x":1}}`},
		{"only under the object's metadata", `{"spec":{"managedFields":1,"metadata":{"managedFields":2}},"metadata":{}}`, `{"spec":{"managedFields":1,"metadata":{"managedFields":2}},"metadata":{}}`},
		{"metadata not an object", `{"metadata":[{"managedFields":1}]}`, `{"metadata":[{"managedFields":1}]}`},
		{"null", `null`, `null`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeForPolicies([]byte(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			want, err := decodeObject([]byte(tc.want))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("decodeForPolicies = %#v, want %#v", got, want)
			}
		})
	}
	if _, err := decodeForPolicies([]byte(`{"metadata":{"managedFields":[1,}}`)); err == nil {
		t.Error("decodeForPolicies accepted malformed managedFields")
	}
}

// decodeObject decodes what encoding/json decodes, into the same values,
// and rejects what it rejects.
func TestDecodeObjectMatchesEncodingJSON(t *testing.T) {
	for _, tc := range objectCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeObject([]byte(tc.raw))
			want, wantErr := v1Object([]byte(tc.raw))
			if (err == nil) != tc.ok || (wantErr == nil) != tc.ok {
				t.Fatalf("decodeObject error %v, encoding/json error %v; want ok %v", err, wantErr, tc.ok)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("decodeObject = %#v\nencoding/json = %#v", got, want)
			}
		})
	}
}

func FuzzDecodeObject(f *testing.F) {
	for _, tc := range objectCases {
		f.Add([]byte(tc.raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := decodeObject(raw)
		want, wantErr := v1Object(raw)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%q: decodeObject error %v, encoding/json error %v", raw, err, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: decodeObject = %#v, encoding/json = %#v", raw, got, want)
		}
		lean, err := decodeForPolicies(raw)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%q: decodeForPolicies error %v, encoding/json error %v", raw, err, wantErr)
		}
		if meta, ok := want["metadata"].(map[string]any); ok {
			delete(meta, "managedFields")
		}
		if !reflect.DeepEqual(lean, want) {
			t.Fatalf("%q: decodeForPolicies = %#v, want %#v", raw, lean, want)
		}
	})
}

// unmarshalReview decodes a review as sigs.k8s.io/json does: the names
// case-sensitively, the embedded objects raw.
func TestUnmarshalReviewMatchesSigsJSON(t *testing.T) {
	good := reviewBody(t, request(t, admissionv1.Update, obj(t, webDeployment), obj(t, webDeployment), dryRun))
	for _, tc := range []struct {
		name string
		body string
		ok   bool
	}{
		{"a review from the API server", string(good), true},
		{"names in another case are not fields", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","Request":{"uid":"1"},"request":{"UID":"2","uid":"3","Name":"x"}}`, true},
		{"duplicate names keep the last", `{"kind":"x","kind":"AdmissionReview","request":{"uid":"1","uid":"2"}}`, true},
		{"extra fields", `{"request":{"uid":"1","unknown":{"a":[1]},"options":{"kind":"CreateOptions"}},"x":1}`, true},
		{"null object", `{"request":{"uid":"1","object":null,"oldObject":{"a":1}}}`, true},
		{"user extra", `{"request":{"uid":"1","userInfo":{"username":"u","groups":["g"],"extra":{"k":["v"]}}}}`, true},
		{"invalid UTF-8 in a string", "{\"request\":{\"uid\":\"1\xff\"}}", true},
		{"wrong type", `{"request":{"uid":1}}`, false},
		{"truncated", `{"request":{"uid":"1"}`, false},
		{"trailing data", `{"request":{"uid":"1"}}{}`, false},
		{"not an object", `[1]`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got, want admissionv1.AdmissionReview
			err := unmarshalReview([]byte(tc.body), &got)
			wantErr := sigsjson.UnmarshalCaseSensitivePreserveInts([]byte(tc.body), &want)
			if (err == nil) != tc.ok || (wantErr == nil) != tc.ok {
				t.Fatalf("unmarshalReview error %v, sigs.k8s.io/json error %v; want ok %v", err, wantErr, tc.ok)
			}
			if tc.ok && !reflect.DeepEqual(got, want) {
				t.Errorf("unmarshalReview = %+v\nsigs.k8s.io/json = %+v", got.Request, want.Request)
			}
		})
	}
}
