package helmrelease

import (
	"encoding/base64"
	"fmt"
	"strings"

	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/strvals"

	"github.com/fluxgate/fluxgate/manifest"
)

// defaultValuesKey is the key of spec.valuesFrom when valuesKey is unset.
const defaultValuesKey = "values.yaml"

// values composes a HelmRelease's values as helm-controller does:
// spec.valuesFrom in order (a targetPath sets one value, otherwise the
// document is merged), then spec.values merged on top. ConfigMaps and
// Secrets are looked up among the objects checked, in the HelmRelease's
// namespace.
func (r *renderer) values(hr *manifest.Object, s *spec) (map[string]any, error) {
	out := map[string]any{}
	for i, ref := range s.ValuesFrom {
		data, found, err := r.valuesData(hr, ref)
		if err != nil {
			return nil, fmt.Errorf("spec.valuesFrom[%d]: %w", i, err)
		}
		if !found {
			if ref.Optional {
				continue
			}
			return nil, fmt.Errorf("spec.valuesFrom[%d]: %s %s/%s key %q not found among the objects checked (not optional)",
				i, ref.Kind, hr.Namespace(), ref.Name, valuesKey(ref))
		}
		if ref.TargetPath != "" {
			// helm-controller passes the value as `helm --set path=value`
			// does, with the value's own separators escaped.
			v := strings.NewReplacer(`\`, `\\`, `,`, `\,`).Replace(string(data))
			if err := strvals.ParseInto(ref.TargetPath+"="+v, out); err != nil {
				return nil, fmt.Errorf("spec.valuesFrom[%d]: targetPath %q: %w", i, ref.TargetPath, err)
			}
			continue
		}
		vals, err := chartutil.ReadValues(data)
		if err != nil {
			return nil, fmt.Errorf("spec.valuesFrom[%d]: %s %s/%s key %q: %w", i, ref.Kind, hr.Namespace(), ref.Name, valuesKey(ref), err)
		}
		out = mergeMaps(out, vals)
	}
	return mergeMaps(out, s.Values), nil
}

func valuesKey(ref valuesRef) string {
	if ref.ValuesKey == "" {
		return defaultValuesKey
	}
	return ref.ValuesKey
}

// valuesData returns the value of a valuesFrom reference, and whether the
// object and its key were found.
func (r *renderer) valuesData(hr *manifest.Object, ref valuesRef) ([]byte, bool, error) {
	if ref.Kind != "ConfigMap" && ref.Kind != "Secret" {
		return nil, false, fmt.Errorf("kind %q is not supported (ConfigMap, Secret are)", ref.Kind)
	}
	obj := r.lookup(hr, ref.Kind, hr.Namespace(), ref.Name)
	if obj == nil {
		return nil, false, nil
	}
	// The fields holding the key as text and base64-encoded.
	text, encoded := "data", "binaryData"
	if ref.Kind == "Secret" {
		if _, ok := obj.Data["sops"]; ok {
			return nil, false, fmt.Errorf("the Secret %s is SOPS-encrypted: its values are known only in the cluster", nsName(obj))
		}
		text, encoded = "stringData", "data"
	}
	key := valuesKey(ref)
	if v, ok := stringMap(obj.Data[text])[key]; ok {
		return []byte(v), true, nil
	}
	if v, ok := stringMap(obj.Data[encoded])[key]; ok {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, false, fmt.Errorf("%s of %s %s key %q: %w", encoded, ref.Kind, nsName(obj), key, err)
		}
		return b, true, nil
	}
	return nil, false, nil
}

// stringMap returns the string entries of a map value.
func stringMap(v any) map[string]string {
	m, _ := v.(map[string]any)
	out := make(map[string]string, len(m))
	for k, e := range m {
		if s, ok := e.(string); ok {
			out[k] = s
		}
	}
	return out
}

// mergeMaps merges b into a copy of a, recursively for maps; b wins.
func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}
