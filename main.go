// Command storeapi serves the Store API: every store's catalogue, customers, carts,
// orders and apps as JSON documents over an embedded SQLite engine or MongoDB.
//
//	storeapi [flags]                       serve (see --help for the settings)
//	storeapi create-store [flags] [--name N] [--email E] [--store-id ID]
//	                                       create a store and its admin; prints the credentials
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"storeapi/auth"
	"storeapi/server"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "storeapi:", err)
		os.Exit(1)
	}
}

// run dispatches the subcommand; without one it serves until SIGINT or SIGTERM.
func run(args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) > 0 && args[0] == "create-store" {
		return createStore(ctx, args[1:])
	}
	cfg, err := server.ParseConfig(args, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogLevel)
	log.Info("starting storeapi", cfg.LogValue()...)
	s, err := server.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// createStore creates a store with its first admin on the configured database (the
// server may be running) and prints the credentials as JSON.
func createStore(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("storeapi create-store", flag.ContinueOnError)
	name := fs.String("name", "My store", "store name")
	email := fs.String("email", "", "admin e-mail")
	storeID := fs.Int64("store-id", 0, "store id; 0 for the next free one")
	finish := server.RegisterFlags(fs, os.Getenv)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := finish()
	if err != nil {
		return err
	}
	b, err := server.CreateStore(ctx, cfg, auth.StoreOptions{StoreID: *storeID, Name: *name, Email: *email})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(b)
}

// newLogger is the process logger: text on stderr at the configured level.
func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
