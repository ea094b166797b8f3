package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"storeapi/server"
)

// mainStore is the store the catalogue scenarios read and write (the one the server's
// first start creates, with its admin).
const mainStore = server.FirstStoreID

// serverConfig is a storeapi configuration over dir: the SQLite engine, rates off (every
// request of the generator comes from 127.0.0.1), a response cache of cacheMB.
func serverConfig(dir string, cacheMB int) server.Config {
	return server.Config{
		Addr:            "127.0.0.1:0",
		DataDir:         dir,
		Database:        "storeapi",
		TokenTTL:        24 * time.Hour,
		MaxBody:         1 << 20,
		ShutdownTimeout: 5 * time.Second,
		LogLevel:        "error",
		CacheMB:         cacheMB,
		CacheTTL:        time.Hour,
		CachePoll:       time.Second,
	}
}

// apiServer is a storeapi node running in this process.
type apiServer struct {
	addr   string
	cancel context.CancelFunc
	done   chan error
}

// startAPI starts storeapi with cfg; on an empty database it creates store 1000 and
// writes bootstrap.json. The server logs only warnings and errors, to stderr.
func startAPI(ctx context.Context, cfg server.Config) (*apiServer, error) {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := server.New(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a := &apiServer{addr: s.Addr(), cancel: cancel, done: make(chan error, 1)}
	go func() { a.done <- s.Run(runCtx) }()
	if err := checkLoopback(a.addr); err != nil {
		_ = a.stop()
		return nil, err
	}
	return a, nil
}

// stop shuts the server down and waits until its database is closed.
func (a *apiServer) stop() error {
	a.cancel()
	return <-a.done
}

// credentials are what the generator needs of bootstrap.json.
type credentials struct {
	StoreID          int64  `json:"store_id"`
	AuthenticationID string `json:"authentication_id"`
	Username         string `json:"username"`
	Password         string `json:"password"`
}

// login reads the bootstrap credentials in dataDir, logs in through the API and
// returns the authentication id and an access token.
func login(ctx context.Context, base, dataDir string) (myID, token string, err error) {
	raw, err := os.ReadFile(filepath.Join(dataDir, "bootstrap.json"))
	if err != nil {
		return "", "", fmt.Errorf("loadtest: %w", err)
	}
	var c credentials
	if err := json.Unmarshal(raw, &c); err != nil {
		return "", "", fmt.Errorf("loadtest: bootstrap.json: %w", err)
	}
	sum := md5.Sum([]byte(c.Password))
	var l struct {
		ID     string `json:"_id"`
		APIKey string `json:"api_key"`
	}
	if err := postJSON(ctx, base+"/v1/_login.json", c.StoreID,
		map[string]string{"username": c.Username, "pass_md5_hash": hex.EncodeToString(sum[:])}, &l); err != nil {
		return "", "", err
	}
	var t struct {
		MyID        string `json:"my_id"`
		AccessToken string `json:"access_token"`
	}
	if err := postJSON(ctx, base+"/v1/_authenticate.json", c.StoreID,
		map[string]string{"_id": l.ID, "api_key": l.APIKey}, &t); err != nil {
		return "", "", err
	}
	if t.AccessToken == "" {
		return "", "", errors.New("loadtest: _authenticate gave no token")
	}
	return t.MyID, t.AccessToken, nil
}

// postJSON posts body to url for the store and decodes a 200 answer into out.
func postJSON(ctx context.Context, url string, storeID int64, body, out any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Store-ID", fmt.Sprint(storeID))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("loadtest: POST %s: status %d: %s", url, res.StatusCode, raw)
	}
	return json.Unmarshal(raw, out)
}

// answer is one captured API answer.
type answer struct {
	header http.Header
	body   []byte
}

// capture GETs path of the store twice (the second answer comes from the cache) and
// returns the second answer, without the Date header.
func capture(ctx context.Context, base, path string, storeID int64) (answer, error) {
	var a answer
	for range 2 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return a, err
		}
		req.Header.Set("X-Store-ID", fmt.Sprint(storeID))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return a, fmt.Errorf("loadtest: %w", err)
		}
		a.body, err = io.ReadAll(io.LimitReader(res.Body, 1<<24))
		res.Body.Close()
		if err != nil {
			return a, fmt.Errorf("loadtest: %w", err)
		}
		if res.StatusCode != http.StatusOK {
			return a, fmt.Errorf("loadtest: GET %s: status %d: %s", path, res.StatusCode, a.body)
		}
		a.header = res.Header
	}
	a.header.Del("Date")
	return a, nil
}

// ceilingServer is the bare net/http server: every request gets the same status,
// headers and body as a captured API answer, with no work at all — the list answer
// for /v1/products.json, the document answer for any other path.
type ceilingServer struct {
	addr string
	srv  *http.Server
}

// startCeiling starts the ceiling server on 127.0.0.1.
func startCeiling(doc, list answer) (*ceilingServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	doc.header, list.header = doc.header.Clone(), list.header.Clone()
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a := &doc
			if r.URL.Path == "/v1/products.json" {
				a = &list
			}
			h := w.Header()
			for k, v := range a.header {
				h[k] = v
			}
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(a.body)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	go func() { _ = srv.Serve(ln) }()
	return &ceilingServer{addr: ln.Addr().String(), srv: srv}, nil
}

// stop closes the ceiling server.
func (c *ceilingServer) stop() { _ = c.srv.Close() }
