package fluxbuild

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/fluxcd/pkg/kustomize"
	securefs "github.com/fluxcd/pkg/kustomize/filesys"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	"sigs.k8s.io/yaml"
)

// buildMu serialises the kustomize builds of every Expand in the process:
// kustomize keeps its OpenAPI schema in a process-wide variable and is not
// safe for concurrent builds (kubernetes-sigs/kustomize#3659), which is
// why Flux's own build takes a lock. Every build here, Flux's included,
// runs under this one, so the fast path below never overlaps Flux's.
var buildMu sync.Mutex

// secureBuild builds the kustomization in dir with the result Flux's
// kustomize.SecureBuild(base, dir, false) gives, and is that function
// whenever a kustomization of the build sets an openapi schema.
//
// Flux resets kustomize's OpenAPI schema before every build and parses the
// built-in Kubernetes schema again, so that a schema one kustomization
// adds (its openapi field) cannot leak into the next build. That parse is
// about 50 ms, most of the time of a build and all of it under the lock:
// in a repository of many clusters it is what following Flux costs. A
// build whose kustomizations set no schema leaves the built-in schema as
// it found it, so when none does the schema parsed for an earlier build is
// the one Flux would parse again, and the build runs krusty with Flux's
// options (secure file system rooted at base, no load restrictions inside
// it, built-in plugins only) without the reset. TestSecureBuildMatchesFlux
// holds the two paths to the same output.
func secureBuild(base, dir string) (resmap.ResMap, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	if setsSchema(base, dir) {
		return kustomize.SecureBuild(base, dir, false)
	}
	fs, err := securefs.MakeFsOnDiskSecure(base)
	if err != nil {
		return nil, fmt.Errorf("secure file system at %s: %w", base, err)
	}
	return buildWithBuiltinSchema(fs, dir)
}

// buildWithBuiltinSchema runs krusty as Flux's kustomize.Build does, on the
// built-in schema parsed once (Flux's build leaves it reset, so the first
// build after one parses it again).
func buildWithBuiltinSchema(fs filesys.FileSystem, dir string) (m resmap.ResMap, err error) {
	// As Flux does: kustomize panics on some invalid input; a panic is
	// that build's error, not the end of the check.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("recovered from kustomize build panic: %v", r)
		}
	}()
	_ = openapi.Schema()
	k := krusty.MakeKustomizer(&krusty.Options{
		LoadRestrictions: kustypes.LoadRestrictionsNone,
		PluginConfig:     kustypes.DisabledPluginConfig(),
	})
	return k.Run(fs, dir)
}

// setsSchema reports whether the kustomization in dir, or one it refers
// to, has an openapi field, or cannot be read to tell (Flux's path then
// decides, with its reset).
func setsSchema(base, dir string) bool {
	rel, err := filepath.Rel(base, dir)
	if err != nil {
		return true
	}
	found := false
	walkRefs(base, filepath.ToSlash(rel), func(r string) {
		if !found && kustomizationSetsSchema(filepath.Join(base, filepath.FromSlash(r))) {
			found = true
		}
	})
	return found
}

// kustomizationSetsSchema reports whether dir's kustomization file has an
// openapi field or is not valid YAML; a directory without one sets none.
func kustomizationSetsSchema(dir string) bool {
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return true
		}
		var k map[string]any
		if err := yaml.Unmarshal(data, &k); err != nil {
			return true
		}
		_, ok := k["openapi"]
		return ok
	}
	return false
}
