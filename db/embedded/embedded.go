// Package embedded runs FerretDB v1 with its SQLite backend inside the process: a
// MongoDB-wire server over a data directory, with no external process. The MongoDB
// engine's tests use it as their server.
package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Server is one running embedded FerretDB.
type Server struct {
	uri    string
	cancel context.CancelFunc
	done   chan struct{}
}

// Start starts FerretDB listening on 127.0.0.1 at a free port, storing its SQLite files
// in dataDir (created if missing; '%', '#' and '?' in its path are refused). It returns once the server accepts connections.
// FerretDB logs every failed command at warn level, so only its errors reach log
// (nil: nothing is logged). Stop the server with Stop; ctx only bounds the start.
func Start(ctx context.Context, dataDir string, log *slog.Logger) (*Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("embedded: data directory: %w", err)
	}
	// FerretDB hands SQLite the path as an unescaped URI, where these would start an
	// escape, a fragment or a query: the files would land elsewhere.
	if strings.ContainsAny(dir, "%#?") {
		return nil, fmt.Errorf("embedded: data directory %q: '%%', '#' and '?' are not supported", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded: data directory: %w", err)
	}
	var h slog.Handler = slog.DiscardHandler
	if log != nil {
		h = minLevel{Handler: log.Handler(), min: slog.LevelError}
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Logger:    slog.New(h),
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	// New has bound the listener already; Run accepts and serves until runCtx ends.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Server{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = f.Run(runCtx)
	}()
	s.uri = f.MongoDBURI()
	return s, nil
}

// URI returns the mongodb:// URI that clients connect with.
func (s *Server) URI() string { return s.uri }

// Stop closes the listener and every connection, closes the SQLite databases, and
// returns when all of that is done. It is safe to call more than once.
func (s *Server) Stop() {
	s.cancel()
	<-s.done
}

// minLevel passes to Handler only records at min or above.
type minLevel struct {
	slog.Handler
	min slog.Level
}

// Enabled reports whether a record at level is passed on.
func (m minLevel) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= m.min && m.Handler.Enabled(ctx, level)
}

// Handle passes r on when its level is at least min.
func (m minLevel) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < m.min {
		return nil
	}
	return m.Handler.Handle(ctx, r)
}

// WithAttrs keeps the level filter on the derived handler.
func (m minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{Handler: m.Handler.WithAttrs(attrs), min: m.min}
}

// WithGroup keeps the level filter on the derived handler.
func (m minLevel) WithGroup(name string) slog.Handler {
	return minLevel{Handler: m.Handler.WithGroup(name), min: m.min}
}
