package policy

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// Active holds the Engine in service and replaces it only with one that
// compiled. Readers never block; a failed reload leaves the previous
// Engine serving.
type Active struct {
	mu         sync.Mutex // serialises reloads
	engine     atomic.Pointer[Engine]
	generation atomic.Int64
}

// Engine returns the Engine in service, or nil before the first
// successful Reload.
func (a *Active) Engine() *Engine { return a.engine.Load() }

// Generation counts successful reloads; it starts at 1 with the first.
func (a *Active) Generation() int64 { return a.generation.Load() }

// Reload compiles modules under cfg and, only if both succeed, puts the
// new Engine in service. On error the Engine in service is unchanged.
func (a *Active) Reload(ctx context.Context, modules []Module, cfg *Config) (*Engine, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	set, err := Compile(ctx, modules)
	if err != nil {
		return nil, fmt.Errorf("reload policies: %w", err)
	}
	eng, err := NewEngine(set, cfg)
	if err != nil {
		return nil, fmt.Errorf("reload policies: %w", err)
	}
	a.engine.Store(eng)
	a.generation.Add(1)
	return eng, nil
}
