package auth

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"golang.org/x/crypto/bcrypt"

	"storeapi/apierror"
	"storeapi/db"
)

// Store creation constants.
const (
	// FirstStoreID is the lowest store id CreateStore picks by itself.
	FirstStoreID = 1000
	// AdminUsername is the username of a new store's first authentication.
	AdminUsername = "admin"
	// DefaultFinancialEmail is the stores document's financial_email when no e-mail is given.
	DefaultFinancialEmail = "admin@localhost.invalid"

	// counterStoreID and counterID place the automatic store id counter in CollStoreIDs;
	// no reservation can have that _id (store ids are below 2^63).
	counterStoreID = 0
	counterID      = "ffffffffffffffffffffffff"
	// staleReservation is how old a reservation of a store id whose store was never
	// written (a creator that crashed, or a store purged since) must be to be taken over.
	staleReservation = time.Minute
	// maxStoreIDTries bounds the search for a free automatic store id.
	maxStoreIDTries = 1000
	// maxStoreName is the longest store name (the stores schema's maxLength).
	maxStoreName = 255
	// maxAuthEmail is the longest e-mail of an authentication (its schema's maxLength).
	maxAuthEmail = 200
)

// StoreOptions describes a store to create.
type StoreOptions struct {
	// StoreID is the store's id; 0 picks the next free id ≥ FirstStoreID.
	StoreID int64
	// Name is the store's name (≤ 255 characters); "" names it "Store <id>".
	Name string
	// Email is the admin's e-mail and the store's financial e-mail; "" leaves the admin
	// without one and uses DefaultFinancialEmail for the store.
	Email string
}

// Bootstrap is what a new store's owner needs to log in: the admin's authentication id,
// username, password (in clear: shown once, stored only as a bcrypt hash of its MD5) and
// api key.
type Bootstrap struct {
	StoreID          int64  `json:"store_id"`
	AuthenticationID string `json:"authentication_id"`
	Username         string `json:"username"`
	Password         string `json:"password"`
	APIKey           string `json:"api_key"`
}

// StoreExists reports whether a stores document with that store id exists.
func (s *Service) StoreExists(ctx context.Context, storeID int64) (bool, error) {
	if storeID <= 0 {
		return false, nil
	}
	n, err := s.store.Count(ctx, CollStores, storeID, nil)
	if err != nil {
		return false, apierror.Internal(err)
	}
	return n > 0, nil
}

// CreateStore creates a store: its stores document (a valid minimal profile), an "admin"
// authentication with every permission ({"*":["all"]}) and that authentication's
// credentials with a new random password. The stores document is written last, so a
// store exists (StoreExists) only once it is complete; a failure removes what was
// written.
//
// A store id that is taken (or being created concurrently) is refused with a 409 whose
// cause is ErrStoreExists; invalid options are a 400. Store ids are reserved in
// CollStoreIDs, so concurrent creators (several nodes bootstrapping one database) never
// create one store twice.
func (s *Service) CreateStore(ctx context.Context, opts StoreOptions) (Bootstrap, error) {
	name := strings.TrimSpace(opts.Name)
	if utf8.RuneCountInString(name) > maxStoreName || !utf8.ValidString(name) {
		return Bootstrap{}, errInvalid("store name must be valid text of at most %d characters", maxStoreName)
	}
	email := strings.TrimSpace(opts.Email)
	if email != "" && (len(email) > maxAuthEmail || !jsonschema.Formats["email"](email)) {
		return Bootstrap{}, errInvalid("invalid e-mail address %q", email)
	}
	if opts.StoreID < 0 {
		return Bootstrap{}, errInvalid("invalid store id %d", opts.StoreID)
	}
	storeID := opts.StoreID
	var err error
	if storeID == 0 {
		storeID, err = s.reserveNextStoreID(ctx)
	} else {
		err = s.reserveStoreID(ctx, storeID)
	}
	if err != nil {
		return Bootstrap{}, err
	}
	if name == "" {
		name = fmt.Sprintf("Store %d", storeID)
	}
	b, err := s.populateStore(ctx, storeID, name, email)
	if err != nil {
		// Undo, even when ctx is what failed.
		undo := context.WithoutCancel(ctx)
		if b.AuthenticationID != "" {
			_ = s.DeleteCredentials(undo, storeID, b.AuthenticationID)
			_, _ = s.store.Update(undo, CollAuthentications, storeID, b.AuthenticationID, func(db.Doc) (db.Doc, error) { return nil, nil })
		}
		_, _ = s.store.Update(undo, CollStoreIDs, storeID, reservationID(storeID), func(db.Doc) (db.Doc, error) { return nil, nil })
		return Bootstrap{}, apierror.From(err)
	}
	return b, nil
}

// populateStore writes a reserved store's admin authentication, its credentials and
// then its stores document. On error, b.AuthenticationID names what may need removing.
func (s *Service) populateStore(ctx context.Context, storeID int64, name, email string) (b Bootstrap, err error) {
	now := s.timestamp()
	b = Bootstrap{StoreID: storeID, AuthenticationID: db.NewID(), Username: AdminUsername, Password: rand.Text()}
	authDoc := db.Doc{
		"_id": b.AuthenticationID, "store_id": storeID,
		"username":    AdminUsername,
		"permissions": map[string]any{"*": []any{"all"}},
		"created_at":  now, "updated_at": now,
	}
	if email != "" {
		authDoc["email"] = email
	}
	if err := s.store.Insert(ctx, CollAuthentications, authDoc); err != nil {
		return Bootstrap{}, fmt.Errorf("auth: creating the admin of store %d: %w", storeID, err)
	}
	sum := md5.Sum([]byte(b.Password))
	hash, err := bcrypt.GenerateFromPassword([]byte(hex.EncodeToString(sum[:])), s.cost)
	if err != nil {
		return b, fmt.Errorf("auth: bcrypt: %w", err)
	}
	version := firstKeyVersion()
	cred := db.Doc{
		"_id": b.AuthenticationID, "store_id": storeID,
		fieldPasswordHash: string(hash),
		fieldKeyVersion:   version,
		"created_at":      now, "updated_at": now,
	}
	if err := s.store.Insert(ctx, CollCredentials, cred); err != nil {
		return b, fmt.Errorf("auth: creating the admin credentials of store %d: %w", storeID, err)
	}
	b.APIKey = s.apiKey(storeID, b.AuthenticationID, version)
	financial := email
	if financial == "" {
		financial = DefaultFinancialEmail
	}
	storeDoc := db.Doc{
		"_id": db.NewID(), "store_id": storeID,
		"name":            name,
		"corporate_name":  name,
		"segment_id":      int64(0),
		"doc_type":        "CNPJ",
		"doc_number":      "0",
		"financial_email": financial,
		"created_at":      now, "updated_at": now,
	}
	if err := s.store.Insert(ctx, CollStores, storeDoc); err != nil {
		return b, fmt.Errorf("auth: creating store %d: %w", storeID, err)
	}
	return b, nil
}

// reservationID is the _id of a store id's reservation: the id in 24 hex digits.
func reservationID(storeID int64) string {
	return fmt.Sprintf("%024x", storeID)
}

// errStoreTaken is CreateStore's answer for a store id in use.
func errStoreTaken(storeID int64, why string) *apierror.Error {
	e := apierror.Newf(http.StatusConflict, CodeStoreExists, "store %d %s", storeID, why)
	e.Cause = ErrStoreExists
	return e
}

// reserveStoreID reserves a store id chosen by the caller, or refuses it when a store
// has it or another creator holds a fresh reservation of it.
func (s *Service) reserveStoreID(ctx context.Context, storeID int64) error {
	exists, err := s.StoreExists(ctx, storeID)
	if err != nil {
		return err
	}
	if exists {
		return errStoreTaken(storeID, "already exists")
	}
	ok, err := s.tryReserve(ctx, storeID)
	if err != nil {
		return apierror.Internal(err)
	}
	if ok {
		return nil
	}
	// Reserved before: take the reservation over if its creator is long gone.
	errFresh := errors.New("fresh")
	_, err = s.store.Update(ctx, CollStoreIDs, storeID, reservationID(storeID), func(cur db.Doc) (db.Doc, error) {
		at, _ := cur["updated_at"].(string)
		t, perr := time.Parse(db.TimeLayout, at)
		if perr == nil && s.now().Sub(t) < staleReservation {
			return nil, errFresh
		}
		cur["updated_at"] = s.timestamp()
		return cur, nil
	})
	switch {
	case errors.Is(err, errFresh):
		return errStoreTaken(storeID, "is being created")
	case errors.Is(err, db.ErrNotFound):
		// Released meanwhile (a failed creator): try once more.
		if ok, err = s.tryReserve(ctx, storeID); err != nil {
			return apierror.Internal(err)
		}
		if !ok {
			return errStoreTaken(storeID, "is being created")
		}
	case err != nil:
		return apierror.Internal(err)
	}
	// A creator may have finished between the first check and the takeover.
	if exists, err = s.StoreExists(ctx, storeID); err != nil {
		return err
	}
	if exists {
		return errStoreTaken(storeID, "already exists")
	}
	return nil
}

// tryReserve inserts the reservation of a store id; false when one exists.
func (s *Service) tryReserve(ctx context.Context, storeID int64) (bool, error) {
	now := s.timestamp()
	err := s.store.Insert(ctx, CollStoreIDs, db.Doc{
		"_id": reservationID(storeID), "store_id": storeID, "created_at": now, "updated_at": now,
	})
	if errors.Is(err, db.ErrDuplicate) {
		return false, nil
	}
	return err == nil, err
}

// reserveNextStoreID reserves the next free store id ≥ FirstStoreID, counting from the
// last one handed out.
func (s *Service) reserveNextStoreID(ctx context.Context) (int64, error) {
	for range maxStoreIDTries {
		id, err := s.nextCounter(ctx)
		if err != nil {
			return 0, apierror.Internal(err)
		}
		exists, err := s.StoreExists(ctx, id)
		if err != nil {
			return 0, err
		}
		if exists {
			continue
		}
		ok, err := s.tryReserve(ctx, id)
		if err != nil {
			return 0, apierror.Internal(err)
		}
		if ok {
			return id, nil
		}
	}
	return 0, apierror.Internal(fmt.Errorf("auth: no free store id in %d tries", maxStoreIDTries))
}

// nextCounter atomically advances the automatic store id counter and returns its value.
func (s *Service) nextCounter(ctx context.Context) (int64, error) {
	for range 3 {
		var next int64
		_, err := s.store.Update(ctx, CollStoreIDs, counterStoreID, counterID, func(cur db.Doc) (db.Doc, error) {
			last, _ := db.Int64(cur["last"])
			next = max(last+1, FirstStoreID)
			cur["last"] = next
			cur["updated_at"] = s.timestamp()
			return cur, nil
		})
		if err == nil {
			return next, nil
		}
		if !errors.Is(err, db.ErrNotFound) {
			return 0, fmt.Errorf("auth: store id counter: %w", err)
		}
		// No created_at: a purge of old documents by created_at must not reset the counter.
		err = s.store.Insert(ctx, CollStoreIDs, db.Doc{
			"_id": counterID, "store_id": int64(counterStoreID), "last": int64(FirstStoreID), "updated_at": s.timestamp(),
		})
		if err == nil {
			return FirstStoreID, nil
		}
		if !errors.Is(err, db.ErrDuplicate) {
			return 0, fmt.Errorf("auth: store id counter: %w", err)
		}
	}
	return 0, errors.New("auth: store id counter keeps changing")
}
