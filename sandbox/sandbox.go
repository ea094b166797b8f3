// Package sandbox is storeapi's 7-day sandbox (SPEC §9): the same API over a separate
// database in which every document is deleted MaxAge (7 days) after its created_at.
//
// It holds the sandbox's own parts; the server wires them to the sandbox environment
// (its own database, auth audience, response cache and handler chain):
//
//   - Opener serves POST /sandbox/v1/_sandbox.json: anyone may open a sandbox store and
//     gets its id and admin credentials, optionally with seed data; opening is
//     rate-limited per client IP and capped in live stores.
//   - Purger deletes, round after round, every document whose created_at is older than
//     MaxAge in every collection of the sandbox database — a loop of DeleteMany, since
//     the embedded engines have no TTL index — in bounded windows of creation time.
//
// Everything goes through the db.Store seam and the auth package.
package sandbox

import (
	"errors"
	"strconv"
	"time"

	"storeapi/db"
)

// Defaults of the settings.
const (
	// DefaultMaxAge is how long a sandbox document lives after its created_at.
	DefaultMaxAge = 7 * 24 * time.Hour
	// DefaultPurgeInterval is how often the purge runs a round.
	DefaultPurgeInterval = time.Hour
	// DefaultOpenRate is how many stores one client IP may open an hour.
	DefaultOpenRate = 10
	// DefaultMaxStores caps the sandbox stores alive at once.
	DefaultMaxStores = 1000
)

// Header is the response header every sandbox answer carries, with the value "true".
const Header = "X-Sandbox"

// Collections of the sandbox database this package owns. Both hold documents of store 0
// (the sandbox itself, not a store): no client can reach them.
const (
	// CollOpened holds one document per store opened through the Opener: {"store":
	// <store id>, "created_at", "expires_at"}. Counting those younger than MaxAge counts
	// the live stores; the purge deletes them with the rest.
	CollOpened = "sandbox_stores"
	// CollPurgeState holds the purge's cursor (the created_at up to which every
	// document is gone). It has no created_at, so the purge never deletes it.
	CollPurgeState = "sandbox_purge"
)

// Field is the field whose age the purge reads: the creation time every document of
// the API carries, a fixed-width ISO 8601 UTC string, so string order is time order.
const Field = "created_at"

// parseTimestamp reads a stored timestamp.
func parseTimestamp(s string) (time.Time, error) {
	t, err := time.Parse(db.TimeLayout, s)
	if err != nil {
		return time.Time{}, errors.New("sandbox: bad timestamp " + strconv.Quote(s))
	}
	return t, nil
}
