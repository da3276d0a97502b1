package install

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// waitReady polls url until it answers 200, the process exits or a
// minute passes.
func waitReady(ctx context.Context, url string, p Process) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var last error
	for {
		if p.Exited() {
			return errors.New("the process exited")
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("readyz request: %w", err)
		}
		if resp, err := http.DefaultClient.Do(req); err != nil {
			last = err
		} else {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = errors.New(resp.Status)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
