package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/json"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"storeapi/apierror"
	"storeapi/db"
)

// Limits of what Login and Authenticate look at.
const (
	// maxLoginCandidates is how many authentications one username or e-mail may match
	// and still be tried.
	maxLoginCandidates = 5
	// maxEmailScan bounds the case-insensitive e-mail fallback lookup.
	maxEmailScan = 1000
	// maxIdentifier is the longest username or e-mail looked up.
	maxIdentifier = 255
)

// LoginResult is the answer of _login.
type LoginResult struct {
	ID      string `json:"_id"`
	StoreID int64  `json:"store_id"`
	APIKey  string `json:"api_key"`
}

// TokenResult is the answer of _authenticate: the access token and its expiry (ISO 8601
// UTC, milliseconds).
type TokenResult struct {
	MyID        string `json:"my_id"`
	AccessToken string `json:"access_token"`
	Expires     string `json:"expires"`
}

// loginBody is the body of _login.
type loginBody struct {
	Email    string `json:"email"`
	Username string `json:"username"`
	PassMD5  string `json:"pass_md5_hash"`
}

// authenticateBody is the body of _authenticate.
type authenticateBody struct {
	ID     string `json:"_id"`
	APIKey string `json:"api_key"`
}

// decodeBody decodes a JSON object body into v. An empty body is an empty object;
// anything that is not one JSON object with string fields is a 400.
func decodeBody(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errInvalid("the body must be a JSON object with string properties: %s", jsonProblem(err))
	}
	return nil
}

// jsonProblem describes a decoding error without echoing the client's data.
func jsonProblem(err error) string {
	switch e := err.(type) {
	case *json.UnmarshalTypeError:
		if e.Field != "" {
			return "wrong type of " + e.Field
		}
		return "not a JSON object"
	case *json.SyntaxError:
		return "malformed JSON"
	}
	return "malformed JSON"
}

// Login checks a username or e-mail and password (SPEC §6, POST _login) in a store and
// returns the authentication's id and api key.
//
// body is {"username"|"email", "pass_md5_hash"}; queryUsername (the ?username= of the
// URL) is used when the body has no username. A username containing '@' is looked up as
// an e-mail; e-mails compare case-insensitively. A body that is not a JSON object of
// strings is a 400; a missing, unknown or wrong credential is one and the same 401
// (error_code 102), given after comparable work whichever it is.
func (s *Service) Login(ctx context.Context, storeID int64, body []byte, queryUsername string) (LoginResult, error) {
	var req loginBody
	if err := decodeBody(body, &req); err != nil {
		return LoginResult{}, err
	}
	user, byEmail := req.Username, false
	if user == "" {
		user = queryUsername
	}
	if user == "" {
		user, byEmail = req.Email, true
	}
	user = strings.TrimSpace(user)
	if strings.Contains(user, "@") {
		byEmail = true
	}
	pass := strings.ToLower(req.PassMD5)
	if user == "" || len(user) > maxIdentifier || !validMD5(pass) {
		return LoginResult{}, errLogin()
	}
	ids, err := s.findLogin(ctx, storeID, user, byEmail)
	if err != nil {
		return LoginResult{}, apierror.Internal(err)
	}
	compared := false
	for _, id := range ids {
		cred, err := s.getCredentials(ctx, storeID, id)
		if err != nil {
			return LoginResult{}, apierror.Internal(err)
		}
		hash, _ := cred[fieldPasswordHash].(string)
		version, ok := keyVersionOf(cred)
		if hash == "" || !ok {
			continue
		}
		compared = true
		if bcrypt.CompareHashAndPassword([]byte(hash), []byte(pass)) == nil {
			return LoginResult{ID: id, StoreID: storeID, APIKey: s.apiKey(storeID, id, version)}, nil
		}
	}
	if !compared {
		// No such user (or no password): spend what a comparison costs, so the answer's
		// timing does not tell which part was wrong.
		_ = bcrypt.CompareHashAndPassword(s.dummy, []byte(pass))
	}
	return LoginResult{}, errLogin()
}

// findLogin returns the ids of the store's authentications (at most
// maxLoginCandidates) whose username, or e-mail when byEmail, is user.
func (s *Service) findLogin(ctx context.Context, storeID int64, user string, byEmail bool) ([]string, error) {
	path := "username"
	if byEmail {
		path = "email"
	}
	lower := strings.ToLower(user)
	values := []db.Value{{Typed: user, Raw: user}}
	if lower != user {
		values = append(values, db.Value{Typed: lower, Raw: lower})
	}
	q := db.Query{
		StoreID: storeID,
		Conds:   []db.Cond{{Path: path, Op: db.OpEq, Values: values}},
		Fields:  []string{"_id", path},
		Limit:   maxLoginCandidates,
	}
	docs, err := s.store.Find(ctx, CollAuthentications, q)
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 && byEmail {
		// Stored with other letter cases: a case-insensitive "contains" narrows the
		// search, and only an exact lower-case match counts.
		q.Conds = []db.Cond{{Path: path, Op: db.OpContains, Values: []db.Value{{Typed: lower, Raw: lower}}}}
		q.Limit = maxEmailScan
		if docs, err = s.store.Find(ctx, CollAuthentications, q); err != nil {
			return nil, err
		}
	}
	var ids []string
	for _, d := range docs {
		id, _ := d["_id"].(string)
		v, _ := d[path].(string)
		if !db.ValidID(id) || strings.ToLower(v) != lower {
			continue
		}
		if ids = append(ids, id); len(ids) == maxLoginCandidates {
			break
		}
	}
	return ids, nil
}

// Authenticate exchanges an authentication's id and api key (SPEC §6, POST
// _authenticate, body {"_id","api_key"}) for an access token of this store and audience
// that lives TokenTTL. A body that is not a JSON object of strings is a 400; a missing,
// unknown or wrong id or key, or a deleted authentication, is a 401 (error_code 102).
func (s *Service) Authenticate(ctx context.Context, storeID int64, body []byte) (TokenResult, error) {
	var req authenticateBody
	if err := decodeBody(body, &req); err != nil {
		return TokenResult{}, err
	}
	id := strings.ToLower(strings.TrimSpace(req.ID))
	key := strings.ToLower(strings.TrimSpace(req.APIKey))
	if !db.ValidID(id) || key == "" {
		return TokenResult{}, errUnauthorized("invalid credentials: _id and api_key required")
	}
	cred, err := s.getCredentials(ctx, storeID, id)
	if err != nil {
		return TokenResult{}, apierror.Internal(err)
	}
	version, ok := keyVersionOf(cred)
	if !ok || !hmac.Equal([]byte(key), []byte(s.apiKey(storeID, id, version))) {
		return TokenResult{}, errUnauthorized("invalid credentials: unknown _id or wrong api_key")
	}
	exists, err := s.authenticationExists(ctx, storeID, id)
	if err != nil {
		return TokenResult{}, apierror.Internal(err)
	}
	if !exists {
		return TokenResult{}, errUnauthorized("invalid credentials: unknown _id or wrong api_key")
	}
	now := s.now()
	exp := now.Add(s.ttl).Truncate(jwt.TimePrecision)
	c := claims{
		StoreID: storeID,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   id,
			Audience:  jwt.ClaimStrings{s.audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(now),
		},
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.secret)
	if err != nil {
		return TokenResult{}, apierror.Internal(err)
	}
	return TokenResult{MyID: id, AccessToken: token, Expires: db.Timestamp(exp)}, nil
}
