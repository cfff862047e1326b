package webhookcrm_test

import (
	"log/slog"
	"testing"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/webhookcrm"
)

func newClient(t testing.TB, cfg webhookcrm.Config, logger *slog.Logger) *webhookcrm.Client {
	t.Helper()
	c, err := webhookcrm.New(cfg, logger)
	if err != nil {
		t.Fatalf("webhookcrm.New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}
