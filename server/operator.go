package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"storeapi/apierror"
	"storeapi/auth"
)

// The operator socket is how commands reach a running server: a unix socket in the data
// dir, mode 0600, so only the OS user owning the data may use it. The embedded engine
// lets one process open its database, so `storeapi create-store` asks the running
// server through it, and opens the database itself only when no server runs.

// operatorSocket is the socket's path for a configuration.
func operatorSocket(cfg Config) string { return filepath.Join(cfg.DataDir, "operator.sock") }

// listenOperator binds the operator socket, replacing a stale one.
func listenOperator(cfg Config) (net.Listener, error) {
	path := operatorSocket(cfg)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	}
	if _, err := net.DialTimeout("unix", path, time.Second); err == nil {
		return nil, fmt.Errorf("server: another storeapi already runs on %s", cfg.DataDir)
	}
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("server: operator socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("server: operator socket: %w", err)
	}
	return ln, nil
}

// operatorHandler serves the operator commands: POST /stores creates a store and its
// admin and answers their credentials.
func (s *Server) operatorHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /stores", func(w http.ResponseWriter, r *http.Request) {
		var opts auth.StoreOptions
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&opts); err != nil {
			apierror.Write(w, r, s.log, apierror.Newf(http.StatusBadRequest, -10, "bad store options: %v", err))
			return
		}
		b, err := s.prod.auth.CreateStore(r.Context(), opts)
		if err != nil {
			apierror.Write(w, r, s.log, err)
			return
		}
		s.log.Info("operator created a store", "store_id", b.StoreID)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(b)
	})
	return mux
}

// CreateStore creates a store and its first admin: through the running server's
// operator socket when a server runs on cfg's data dir, else on the database directly.
func CreateStore(ctx context.Context, cfg Config, opts auth.StoreOptions) (auth.Bootstrap, error) {
	b, err := createViaSocket(ctx, cfg, opts)
	if !errors.Is(err, errNoServer) {
		return b, err
	}
	store, err := OpenStore(ctx, cfg)
	if err != nil {
		return auth.Bootstrap{}, err
	}
	defer store.Close(context.WithoutCancel(ctx))
	secret, err := loadSecret(cfg)
	if err != nil {
		return auth.Bootstrap{}, err
	}
	a, err := auth.New(auth.Options{Store: store, Secret: secret, TokenTTL: cfg.TokenTTL, Audience: auth.AudienceProduction})
	if err != nil {
		return auth.Bootstrap{}, err
	}
	return a.CreateStore(ctx, opts)
}

// errNoServer means no server answers on the operator socket.
var errNoServer = errors.New("server: no running server")

// createViaSocket asks the running server to create the store.
func createViaSocket(ctx context.Context, cfg Config, opts auth.StoreOptions) (auth.Bootstrap, error) {
	var b auth.Bootstrap
	path := operatorSocket(cfg)
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return b, errNoServer
	}
	conn.Close()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		},
	}}
	body, _ := json.Marshal(opts)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://operator/stores", bytes.NewReader(body))
	if err != nil {
		return b, err
	}
	res, err := client.Do(req)
	if err != nil {
		return b, fmt.Errorf("server: operator socket: %w", err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode != http.StatusCreated {
		return b, fmt.Errorf("server: the running server refused: %s", bytes.TrimSpace(data))
	}
	return b, json.Unmarshal(data, &b)
}
