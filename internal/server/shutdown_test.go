package server_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/orchestrator/orchestrator/internal/accounts"
	"github.com/orchestrator/orchestrator/internal/config"
	"github.com/orchestrator/orchestrator/internal/nextactions"
	"github.com/orchestrator/orchestrator/internal/server"
)

// TestCloseKeepsQueuedEvaluationLog evaluates next actions and closes the
// server at once: the evaluation log entry, queued for the background
// writer, must be in the store when the server starts again.
func TestCloseKeepsQueuedEvaluationLog(t *testing.T) {
	ctx := context.Background()
	cfg := config.Defaults()
	cfg.Data = t.TempDir()
	deps := server.Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}

	srv, err := server.New(ctx, cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	a, err := srv.Accounts.Create(ctx, accounts.CreateRequest{Name: "Shutdown"})
	if err != nil {
		t.Fatal(err)
	}
	acct := a.AccountID
	na := srv.API.NextActions
	if _, err := na.Create(ctx, acct, nextactions.Policy{
		Name:       "always",
		Conditions: []nextactions.Condition{{Property: "conversation.conversationId", Type: "EQUAL", Value: "c1"}},
		Actions:    []nextactions.Action{{Type: "SEND_MESSAGE", Payload: map[string]any{"message": "hi"}}},
	}); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := na.NextActions(ctx, nextactions.Request{AccountID: acct, ConversationID: "c1"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	srv, err = server.New(ctx, cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	logs, err := srv.API.NextActions.Logs(ctx, acct, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) != 20 {
		t.Fatalf("evaluation log after restart has %d entries, want 20: %+v", len(logs), logs)
	}
}
