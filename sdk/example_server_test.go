package sdk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"

	"github.com/orchestrator/orchestrator/internal/config"
	"github.com/orchestrator/orchestrator/internal/server"
)

// exampleEnv is a real server on a loopback port with one v2 account, for
// the examples (which have no *testing.T for servertest).
type exampleEnv struct {
	URL                                 string
	AccountID, UserID, Password, APIKey string
	stop                                func()
}

func (e *exampleEnv) Close() { e.stop() }

func startExampleServer() *exampleEnv {
	dir, err := os.MkdirTemp("", "sdk-example-")
	if err != nil {
		panic(err)
	}
	cfg := config.Defaults()
	cfg.Data = dir
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	cfg.Addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, server.Deps{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	env := &exampleEnv{URL: "http://" + cfg.Addr, stop: func() {
		cancel()
		<-done
		os.RemoveAll(dir)
	}}

	body, _ := json.Marshal(map[string]string{"name": "Example", "authVersion": "v2"})
	req, _ := http.NewRequest("POST", env.URL+"/admin/v1/accounts", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+srv.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var a struct {
		AccountID, APIKey string
		Credentials       struct{ UserID, Password string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != http.StatusCreated {
		panic(fmt.Sprintf("create account: %d %v", resp.StatusCode, err))
	}
	env.AccountID, env.APIKey = a.AccountID, a.APIKey
	env.UserID, env.Password = a.Credentials.UserID, a.Credentials.Password
	return env
}
