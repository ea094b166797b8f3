// Command storeapi serves the Store API: every store's catalogue, customers, carts,
// orders and apps as JSON documents over an embedded SQLite engine or MongoDB.
//
//	storeapi [flags]                       serve (see --help for the settings)
//	storeapi create-store [flags] [--name N] [--email E] [--store-id ID]
//	                                       create a store and its admin; prints the credentials
//	storeapi export [flags] --store-id ID  write a store's documents to stdout as NDJSON
//	storeapi import [flags] [--replace]    read an export from stdin into the configured engine
//	storeapi migrate [flags] --store-id ID --to-mongodb-uri URI [--to-database D] | --to-data-dir DIR
//	                                       copy a store into another engine
//
// Every subcommand takes the server's settings (--data-dir, --mongodb-uri, …) to find
// the database it works on.
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
	"storeapi/migrate"
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
	if len(args) > 0 {
		switch args[0] {
		case "create-store":
			return createStore(ctx, args[1:])
		case "export", "import", "migrate":
			return moveData(ctx, args[0], args[1:])
		}
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

// moveData runs export, import or migrate.
func moveData(ctx context.Context, command string, args []string) error {
	fs := flag.NewFlagSet("storeapi "+command, flag.ContinueOnError)
	storeID := fs.Int64("store-id", 0, "the store to move (import: 0 takes it from the data)")
	replace := fs.Bool("replace", false, "replace documents that exist on the target (default: skip them)")
	toURI := fs.String("to-mongodb-uri", "", "migrate: the target MongoDB")
	toDatabase := fs.String("to-database", "storeapi", "migrate: the target database name")
	toDataDir := fs.String("to-data-dir", "", "migrate: the target SQLite data dir")
	finish := server.RegisterFlags(fs, os.Getenv)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := finish()
	if err != nil {
		return err
	}
	if command != "import" && *storeID <= 0 {
		return errors.New("--store-id is required")
	}
	from, err := server.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer from.Close(context.WithoutCancel(ctx))
	var counts migrate.Counts
	switch command {
	case "export":
		counts, err = migrate.Export(ctx, from, *storeID, os.Stdout)
	case "import":
		counts, err = migrate.Import(ctx, from, *storeID, os.Stdin, *replace)
	case "migrate":
		target := cfg
		target.MongoURI, target.Database = *toURI, *toDatabase
		if *toDataDir != "" {
			target.MongoURI, target.DataDir = "", *toDataDir
		}
		if target.MongoURI == "" && *toDataDir == "" {
			return errors.New("migrate needs --to-mongodb-uri or --to-data-dir")
		}
		to, err := server.OpenStore(ctx, target)
		if err != nil {
			return err
		}
		defer to.Close(context.WithoutCancel(ctx))
		counts, err = migrate.Copy(ctx, from, to, *storeID, *replace)
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "storeapi %s: %v\n", command, counts)
	return err
}

// newLogger is the process logger: text on stderr at the configured level.
func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
