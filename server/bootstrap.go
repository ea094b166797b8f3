package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"storeapi/auth"
)

// FirstStoreID is the store created on the first start over an empty database.
const FirstStoreID = 1000

// bootstrap creates the first store and its admin when the database has none, and
// writes their credentials to <data dir>/bootstrap.json (mode 0600). The log says where
// the file is, never what is in it.
func bootstrap(ctx context.Context, cfg Config, log *slog.Logger, a *auth.Service) error {
	exists, err := a.StoreExists(ctx, FirstStoreID)
	if err != nil || exists {
		return err
	}
	b, err := a.CreateStore(ctx, auth.StoreOptions{StoreID: FirstStoreID, Name: "My store"})
	if err != nil {
		return fmt.Errorf("server: creating the first store: %w", err)
	}
	path, err := writeSecretJSON(cfg.DataDir, "bootstrap.json", b)
	if err != nil {
		return err
	}
	log.Info("created store 1000 and its admin; credentials written once to the bootstrap file",
		"store_id", b.StoreID, "file", path)
	return nil
}

// writeSecretJSON writes v as JSON readable by the owner only.
func writeSecretJSON(dir, name string, v any) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("server: data dir: %w", err)
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("server: writing %s: %w", path, err)
	}
	// WriteFile keeps the mode of an existing file: make sure it is private.
	if err := os.Chmod(path, 0o600); err != nil {
		return "", fmt.Errorf("server: %w", err)
	}
	return path, nil
}

// loadSecret returns the token secret: the configured one, or the one kept in
// <data dir>/secret.key, created on first use.
func loadSecret(cfg Config) ([]byte, error) {
	if cfg.Secret != "" {
		return []byte(cfg.Secret), nil
	}
	path := filepath.Join(cfg.DataDir, "secret.key")
	data, err := os.ReadFile(path)
	if err == nil {
		secret := strings.TrimSpace(string(data))
		if len(secret) < 32 {
			return nil, fmt.Errorf("server: %s holds fewer than 32 characters", path)
		}
		return []byte(secret), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("server: reading the secret: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	secret := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("server: writing the secret: %w", err)
	}
	return []byte(secret), nil
}
