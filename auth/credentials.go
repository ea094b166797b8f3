package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"storeapi/apierror"
	"storeapi/db"
)

// Fields of a credentials document.
const (
	fieldPasswordHash = "password_hash"
	fieldKeyVersion   = "key_version"
)

// maxKeyVersion bounds the random first key version, so that versions stay exact in
// every engine's number form (float64 included).
const maxKeyVersion = 1 << 52

// apiKey derives the api key of an authentication at a key version:
// hex HMAC-SHA256(secret, "api_key|<store>|<auth id>|<key version>").
func (s *Service) apiKey(storeID int64, authID string, version int64) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("api_key|" + strconv.FormatInt(storeID, 10) + "|" + authID + "|" + strconv.FormatInt(version, 10)))
	return hex.EncodeToString(m.Sum(nil))
}

// firstKeyVersion is the key version of a new credentials document: random, so that
// deleting and re-creating credentials never brings an old api key back to life.
func firstKeyVersion() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return int64(binary.BigEndian.Uint64(b[:])%(maxKeyVersion-1)) + 1
}

// keyVersionOf reads a credentials document's key version.
func keyVersionOf(cred db.Doc) (int64, bool) {
	return db.Int64(cred[fieldKeyVersion])
}

// validMD5 reports whether h is 32 lowercase hex characters.
func validMD5(h string) bool {
	if len(h) != 32 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// getCredentials returns the credentials document of an authentication, or nil.
func (s *Service) getCredentials(ctx context.Context, storeID int64, authID string) (db.Doc, error) {
	if !db.ValidID(authID) {
		return nil, nil
	}
	cred, err := s.store.Get(ctx, CollCredentials, storeID, authID)
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil
	}
	return cred, err
}

// upsertCredentials applies change to the credentials document of an authentication,
// creating it (with a first key version) when it does not exist yet.
func (s *Service) upsertCredentials(ctx context.Context, storeID int64, authID string, change func(cred db.Doc)) (db.Doc, error) {
	for attempt := 0; attempt < 3; attempt++ {
		next, err := s.store.Update(ctx, CollCredentials, storeID, authID, func(cur db.Doc) (db.Doc, error) {
			change(cur)
			cur["updated_at"] = s.timestamp()
			return cur, nil
		})
		if err == nil {
			return next, nil
		}
		if !errors.Is(err, db.ErrNotFound) {
			return nil, err
		}
		now := s.timestamp()
		doc := db.Doc{
			"_id": authID, "store_id": storeID,
			fieldKeyVersion: firstKeyVersion(),
			"created_at":    now, "updated_at": now,
		}
		change(doc)
		err = s.store.Insert(ctx, CollCredentials, doc)
		if err == nil {
			return doc, nil
		}
		if !errors.Is(err, db.ErrDuplicate) {
			return nil, err
		}
		// Created concurrently: update that one.
	}
	return nil, fmt.Errorf("auth: credentials of %s keep changing", authID)
}

// SetPassword sets the password of an authentication to passMD5, the MD5 hex of the
// password (what clients send as pass_md5_hash; upper-case hex is accepted). Only a
// bcrypt hash of it is stored. The api key does not change (RotateAPIKey does that).
// A malformed passMD5 is a 400, an unknown authentication a 404.
func (s *Service) SetPassword(ctx context.Context, storeID int64, authID, passMD5 string) error {
	passMD5 = strings.ToLower(passMD5)
	if !validMD5(passMD5) {
		return errInvalid("pass_md5_hash must be the 32 hex digits of an MD5 hash")
	}
	ok, err := s.authenticationExists(ctx, storeID, authID)
	if err != nil {
		return apierror.Internal(err)
	}
	if !ok {
		return errNoAuthentication(authID)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(passMD5), s.cost)
	if err != nil {
		return apierror.Internal(fmt.Errorf("auth: bcrypt: %w", err))
	}
	_, err = s.upsertCredentials(ctx, storeID, authID, func(cred db.Doc) {
		cred[fieldPasswordHash] = string(hash)
	})
	if err != nil {
		return apierror.Internal(err)
	}
	return nil
}

// DeleteCredentials deletes the credentials of an authentication (its password and api
// key), e.g. when the authentication is deleted. Deleting what does not exist is not an
// error.
func (s *Service) DeleteCredentials(ctx context.Context, storeID int64, authID string) error {
	if !db.ValidID(authID) {
		return nil
	}
	_, err := s.store.Update(ctx, CollCredentials, storeID, authID, func(db.Doc) (db.Doc, error) { return nil, nil })
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return apierror.Internal(err)
	}
	return nil
}

// RotateAPIKey gives an authentication a new api key, which it returns; the previous key
// stops working at once (access tokens already issued live on until they expire). An
// authentication without credentials gets some, without a password: it can then use
// _authenticate with the key but not _login. An unknown authentication is a 404.
func (s *Service) RotateAPIKey(ctx context.Context, storeID int64, authID string) (string, error) {
	ok, err := s.authenticationExists(ctx, storeID, authID)
	if err != nil {
		return "", apierror.Internal(err)
	}
	if !ok {
		return "", errNoAuthentication(authID)
	}
	cred, err := s.upsertCredentials(ctx, storeID, authID, func(cred db.Doc) {
		if v, ok := keyVersionOf(cred); ok && v > 0 && v < 1<<62 {
			cred[fieldKeyVersion] = v + 1
		} else {
			cred[fieldKeyVersion] = firstKeyVersion()
		}
	})
	if err != nil {
		return "", apierror.Internal(err)
	}
	v, ok := keyVersionOf(cred)
	if !ok {
		return "", apierror.Internal(fmt.Errorf("auth: credentials of %s have no key version", authID))
	}
	return s.apiKey(storeID, authID, v), nil
}
