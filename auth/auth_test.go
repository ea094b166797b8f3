package auth

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"storeapi/apierror"
	"storeapi/db"
	"storeapi/db/sqlite"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-test-secret")

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// openStore returns a real, empty SQLite database in a temporary directory for one test.
func openStore(t testing.TB) db.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	return st
}

// newService returns a Service over st with a cheap bcrypt cost.
func newService(t testing.TB, st db.Store, audience string, now func() time.Time) *Service {
	t.Helper()
	s, err := New(Options{Store: st, Secret: testSecret, Audience: audience, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.setCost(bcrypt.MinCost); err != nil {
		t.Fatal(err)
	}
	return s
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// fixture is a service with one store (1000) whose admin has an e-mail.
type fixture struct {
	st    db.Store
	clock *clock
	s     *Service
	b     Bootstrap
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{st: openStore(t), clock: &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}}
	f.s = newService(t, f.st, AudienceProduction, f.clock.Now)
	b, err := f.s.CreateStore(context.Background(), StoreOptions{StoreID: 1000, Name: "Test", Email: "Owner@Example.com"})
	if err != nil {
		t.Fatal(err)
	}
	f.b = b
	return f
}

// token logs the admin in and returns an access token.
func (f *fixture) token(t testing.TB) TokenResult {
	t.Helper()
	ctx := context.Background()
	lr, err := f.s.Login(ctx, f.b.StoreID, []byte(fmt.Sprintf(`{"username":"admin","pass_md5_hash":%q}`, md5hex(f.b.Password))), "")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"_id": lr.ID, "api_key": lr.APIKey})
	tr, err := f.s.Authenticate(ctx, f.b.StoreID, body)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// answer is the HTTP answer apierror.Write gives for err.
func answer(err error) (int, string) {
	rec := httptest.NewRecorder()
	apierror.Write(rec, httptest.NewRequest(http.MethodPost, "/v1/_login.json", nil), nil, err)
	return rec.Code, rec.Body.String()
}

// codeOf returns the status and error_code of an error answer.
func codeOf(t testing.TB, err error) (int, any) {
	t.Helper()
	var e *apierror.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not an *apierror.Error", err)
	}
	return e.Status, e.Code
}

func TestNewRefusesBadOptions(t *testing.T) {
	st := openStore(t)
	tests := []struct {
		name string
		opts Options
	}{
		{"no store", Options{Secret: testSecret, Audience: AudienceProduction}},
		{"short secret", Options{Store: st, Secret: []byte("short"), Audience: AudienceProduction}},
		{"no audience", Options{Store: st, Secret: testSecret}},
		{"unknown audience", Options{Store: st, Secret: testSecret, Audience: "staging"}},
		{"negative ttl", Options{Store: st, Secret: testSecret, Audience: AudienceSandbox, TokenTTL: -time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.opts); err == nil || !strings.HasPrefix(err.Error(), "auth: ") {
				t.Fatalf("got %v, want an auth: error", err)
			}
		})
	}
}

func TestLogin(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pass := md5hex(f.b.Password)
	ok := []struct {
		name, body, query string
	}{
		{"username", `{"username":"admin","pass_md5_hash":"` + pass + `"}`, ""},
		{"email other case", `{"email":"owner@EXAMPLE.com","pass_md5_hash":"` + pass + `"}`, ""},
		{"email exact", `{"email":"Owner@Example.com","pass_md5_hash":"` + pass + `"}`, ""},
		{"query username", `{"pass_md5_hash":"` + pass + `"}`, "admin"},
		{"username upper case", `{"username":"ADMIN","pass_md5_hash":"` + pass + `"}`, ""},
		{"e-mail as username", `{"username":"owner@example.com","pass_md5_hash":"` + pass + `"}`, ""},
		{"upper-case md5", `{"username":"admin","pass_md5_hash":"` + strings.ToUpper(pass) + `"}`, ""},
		{"extra fields", `{"username":"admin","pass_md5_hash":"` + pass + `","x":[1,{}]}`, ""},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.s.Login(ctx, 1000, []byte(tc.body), tc.query)
			if err != nil {
				t.Fatalf("got %v, want success", err)
			}
			want := LoginResult{ID: f.b.AuthenticationID, StoreID: 1000, APIKey: f.b.APIKey}
			if got != want {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
	}

	var first string
	refused := []struct {
		name, body, query string
		storeID           int64
	}{
		{"wrong password", `{"username":"admin","pass_md5_hash":"` + md5hex("nope") + `"}`, "", 1000},
		{"unknown user", `{"username":"nobody","pass_md5_hash":"` + pass + `"}`, "", 1000},
		{"unknown email", `{"email":"other@example.com","pass_md5_hash":"` + pass + `"}`, "", 1000},
		{"email substring", `{"email":"wner@example.com","pass_md5_hash":"` + pass + `"}`, "", 1000},
		{"other store", `{"username":"admin","pass_md5_hash":"` + pass + `"}`, "", 1001},
		{"no password", `{"username":"admin"}`, "", 1000},
		{"password not md5", `{"username":"admin","pass_md5_hash":"` + f.b.Password + `"}`, "", 1000},
		{"no user", `{"pass_md5_hash":"` + pass + `"}`, "", 1000},
		{"empty body", ``, "admin", 1000},
		{"null fields", `{"username":null,"pass_md5_hash":null}`, "", 1000},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.s.Login(ctx, tc.storeID, []byte(tc.body), tc.query)
			status, body := answer(err)
			if status != http.StatusUnauthorized || !strings.Contains(body, `"error_code":102`) {
				t.Fatalf("got %d %s, want 401 error_code 102", status, body)
			}
			if first == "" {
				first = body
			} else if body != first {
				t.Fatalf("got body %s, want the same body as every refusal: %s", body, first)
			}
		})
	}

	malformed := []string{`{`, `[]`, `"admin"`, `{"username":1,"pass_md5_hash":"x"}`, `{"pass_md5_hash":["a"]}`, `{} {}`, `nul`}
	for _, body := range malformed {
		t.Run("malformed "+body, func(t *testing.T) {
			_, err := f.s.Login(ctx, 1000, []byte(body), "")
			if status, code := codeOf(t, err); status != http.StatusBadRequest || code != CodeInvalidRequest {
				t.Fatalf("got %d %v, want 400 %d", status, code, CodeInvalidRequest)
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tr := f.token(t)
	if tr.MyID != f.b.AuthenticationID {
		t.Fatalf("got my_id %q, want %q", tr.MyID, f.b.AuthenticationID)
	}
	if want := "2026-11-24T12:00:00.000Z"; tr.Expires != want {
		t.Fatalf("got expires %q, want %q (24 h)", tr.Expires, want)
	}
	id, err := f.s.Verify(ctx, 1000, tr.MyID, tr.AccessToken)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if id.AuthenticationID != f.b.AuthenticationID || id.StoreID != 1000 || !id.Can("products", "", "DELETE") {
		t.Fatalf("got identity %+v, want the admin of 1000 with every permission", id)
	}

	refused := []struct {
		name, body string
		wantStatus int
	}{
		{"wrong key", fmt.Sprintf(`{"_id":%q,"api_key":%q}`, f.b.AuthenticationID, strings.Repeat("0", 64)), 401},
		{"key of another id", fmt.Sprintf(`{"_id":%q,"api_key":%q}`, db.NewID(), f.b.APIKey), 401},
		{"no key", fmt.Sprintf(`{"_id":%q}`, f.b.AuthenticationID), 401},
		{"bad id", fmt.Sprintf(`{"_id":"zz","api_key":%q}`, f.b.APIKey), 401},
		{"empty", ``, 401},
		{"not an object", `[1]`, 400},
		{"number id", `{"_id":5,"api_key":"x"}`, 400},
		{"broken", `{"_id":`, 400},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.s.Authenticate(ctx, 1000, []byte(tc.body))
			status, code := codeOf(t, err)
			wantCode := any(CodeUnauthorized)
			if tc.wantStatus == 400 {
				wantCode = CodeInvalidRequest
			}
			if status != tc.wantStatus || code != wantCode {
				t.Fatalf("got %d %v, want %d %v", status, code, tc.wantStatus, wantCode)
			}
		})
	}
	t.Run("other store", func(t *testing.T) {
		other, err := f.s.CreateStore(ctx, StoreOptions{StoreID: 1001})
		if err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf(`{"_id":%q,"api_key":%q}`, other.AuthenticationID, other.APIKey)
		if _, err := f.s.Authenticate(ctx, 1000, []byte(body)); err == nil {
			t.Fatal("got a token of store 1000 for an authentication of 1001")
		}
		if _, err := f.s.Authenticate(ctx, 1001, []byte(body)); err != nil {
			t.Fatalf("got %v, want a token of 1001", err)
		}
	})
}

// forge signs arbitrary claims with a key.
func forge(t testing.TB, key []byte, c claims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerify(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tr := f.token(t)
	sandbox := newService(t, f.st, AudienceSandbox, f.clock.Now)
	good := claims{StoreID: 1000, RegisteredClaims: jwt.RegisteredClaims{
		Subject: tr.MyID, Audience: jwt.ClaimStrings{AudienceProduction},
		ExpiresAt: jwt.NewNumericDate(f.clock.Now().Add(time.Hour)), IssuedAt: jwt.NewNumericDate(f.clock.Now()),
	}}
	parts := strings.Split(tr.AccessToken, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"store_id":1000`, `"store_id":1001`, 1))) + "." + parts[2]
	unsigned := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."

	tests := []struct {
		name    string
		s       *Service
		storeID int64
		myID    string
		token   string
		advance time.Duration
		want    any // error_code, nil for success
	}{
		{"ok", f.s, 1000, tr.MyID, tr.AccessToken, 0, nil},
		{"ok just before expiry", f.s, 1000, tr.MyID, tr.AccessToken, 24*time.Hour - time.Millisecond, nil},
		{"expired at expiry", f.s, 1000, tr.MyID, tr.AccessToken, 24 * time.Hour, CodeTokenExpired},
		{"expired", f.s, 1000, tr.MyID, tr.AccessToken, 25 * time.Hour, CodeTokenExpired},
		{"other store", f.s, 1001, tr.MyID, tr.AccessToken, 0, CodeUnauthorized},
		{"expired of other store", f.s, 1001, tr.MyID, tr.AccessToken, 25 * time.Hour, CodeUnauthorized},
		{"wrong my id", f.s, 1000, db.NewID(), tr.AccessToken, 0, CodeUnauthorized},
		{"invalid my id", f.s, 1000, "x", tr.AccessToken, 0, CodeUnauthorized},
		{"other audience", sandbox, 1000, tr.MyID, tr.AccessToken, 0, CodeUnauthorized},
		{"tampered payload", f.s, 1000, tr.MyID, tampered, 0, CodeUnauthorized},
		{"tampered signature", f.s, 1000, tr.MyID, tr.AccessToken[:len(tr.AccessToken)-2] + "AA", 0, CodeUnauthorized},
		{"alg none", f.s, 1000, tr.MyID, unsigned, 0, CodeUnauthorized},
		{"other secret", f.s, 1000, tr.MyID, forge(t, []byte(strings.Repeat("k", 32)), good), 0, CodeUnauthorized},
		{"forged with secret ok", f.s, 1000, tr.MyID, forge(t, testSecret, good), 0, nil},
		{"no expiry", f.s, 1000, tr.MyID, forge(t, testSecret, func() claims { c := good; c.ExpiresAt = nil; return c }()), 0, CodeUnauthorized},
		{"no audience", f.s, 1000, tr.MyID, forge(t, testSecret, func() claims { c := good; c.Audience = nil; return c }()), 0, CodeUnauthorized},
		{"garbage", f.s, 1000, tr.MyID, "a.b.c", 0, CodeUnauthorized},
		{"empty token", f.s, 1000, tr.MyID, "", 0, CodeUnauthorized},
		{"empty my id", f.s, 1000, "", tr.AccessToken, 0, CodeUnauthorized},
		{"huge token", f.s, 1000, tr.MyID, strings.Repeat("a", 1<<16), 0, CodeUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.clock.Add(tc.advance)
			defer f.clock.Add(-tc.advance)
			id, err := tc.s.Verify(ctx, tc.storeID, tc.myID, tc.token)
			if tc.want == nil {
				if err != nil || id == nil {
					t.Fatalf("got %v, want success", err)
				}
				return
			}
			if status, code := codeOf(t, err); status != http.StatusUnauthorized || code != tc.want {
				t.Fatalf("got %d %v, want 401 %v", status, code, tc.want)
			}
		})
	}

	t.Run("sandbox token refused by production", func(t *testing.T) {
		body, _ := json.Marshal(map[string]string{"_id": f.b.AuthenticationID, "api_key": f.b.APIKey})
		str, err := sandbox.Authenticate(ctx, 1000, body)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sandbox.Verify(ctx, 1000, str.MyID, str.AccessToken); err != nil {
			t.Fatalf("sandbox refused its own token: %v", err)
		}
		if _, err := f.s.Verify(ctx, 1000, str.MyID, str.AccessToken); err == nil {
			t.Fatal("production accepted a sandbox token")
		}
	})

	t.Run("permissions are read at each request", func(t *testing.T) {
		_, err := f.st.Update(ctx, CollAuthentications, 1000, tr.MyID, func(d db.Doc) (db.Doc, error) {
			d["permissions"] = map[string]any{"orders": []any{"GET"}}
			return d, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		id, err := f.s.Verify(ctx, 1000, tr.MyID, tr.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if id.Can("products", "", "POST") || !id.Can("orders", "", "GET") {
			t.Fatalf("got permissions %v, want only orders GET", id.Permissions)
		}
	})

	t.Run("deleted authentication", func(t *testing.T) {
		if _, err := f.st.Update(ctx, CollAuthentications, 1000, tr.MyID, func(db.Doc) (db.Doc, error) { return nil, nil }); err != nil {
			t.Fatal(err)
		}
		_, err := f.s.Verify(ctx, 1000, tr.MyID, tr.AccessToken)
		if status, code := codeOf(t, err); status != 401 || code != CodeUnauthorized {
			t.Fatalf("got %d %v, want 401 102", status, code)
		}
		body, _ := json.Marshal(map[string]string{"_id": f.b.AuthenticationID, "api_key": f.b.APIKey})
		if _, err := f.s.Authenticate(ctx, 1000, body); err == nil {
			t.Fatal("authenticate succeeded for a deleted authentication")
		}
	})
}

func TestCan(t *testing.T) {
	id := &Identity{Permissions: map[string][]string{
		"products":           {"get", "PATCH"},
		"orders/fulfillment": {"POST"},
		"customers":          {"all"},
		"carts/items":        {"All"},
		"brands":             {},
	}}
	star := &Identity{Permissions: map[string][]string{"*": {"GET"}, "categories": {"DELETE"}}}
	tests := []struct {
		id                  *Identity
		resource, sub, verb string
		want                bool
	}{
		{id, "products", "", "GET", true},
		{id, "products", "", "get", true},
		{id, "products", "", "HEAD", true},
		{id, "products", "", "patch", true},
		{id, "products", "", "DELETE", false},
		{id, "products", "variations", "PATCH", true},
		{id, "products", "variations", "POST", false},
		{id, "orders", "fulfillment", "POST", true},
		{id, "orders", "", "POST", false},
		{id, "orders", "payments_history", "POST", false},
		{id, "customers", "addresses", "DELETE", true},
		{id, "carts", "items", "PUT", true},
		{id, "carts", "", "PUT", false},
		{id, "brands", "", "GET", false},
		{id, "stores", "", "GET", false},
		{id, "products", "", "", false},
		{star, "anything", "", "GET", true},
		{star, "anything", "sub", "get", true},
		{star, "anything", "", "POST", false},
		{star, "categories", "", "DELETE", true},
		{star, "categories", "", "PATCH", false},
		{nil, "products", "", "GET", false},
		{&Identity{}, "products", "", "GET", false},
	}
	for _, tc := range tests {
		if got := tc.id.Can(tc.resource, tc.sub, tc.verb); got != tc.want {
			t.Errorf("Can(%q, %q, %q) with %v: got %v, want %v", tc.resource, tc.sub, tc.verb, tc.id, got, tc.want)
		}
	}
}

func TestRotateAPIKey(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	key, err := f.s.RotateAPIKey(ctx, 1000, f.b.AuthenticationID)
	if err != nil {
		t.Fatal(err)
	}
	if key == f.b.APIKey || len(key) != 64 {
		t.Fatalf("got key %q, want a new 64-hex key", key)
	}
	auth := func(k string) error {
		body, _ := json.Marshal(map[string]string{"_id": f.b.AuthenticationID, "api_key": k})
		_, err := f.s.Authenticate(ctx, 1000, body)
		return err
	}
	if err := auth(f.b.APIKey); err == nil {
		t.Fatal("the old key still authenticates")
	}
	if err := auth(key); err != nil {
		t.Fatalf("the new key: %v", err)
	}
	lr, err := f.s.Login(ctx, 1000, []byte(`{"username":"admin","pass_md5_hash":"`+md5hex(f.b.Password)+`"}`), "")
	if err != nil || lr.APIKey != key {
		t.Fatalf("login got %+v %v, want the new key", lr, err)
	}
	if _, err := f.s.RotateAPIKey(ctx, 1000, db.NewID()); err == nil {
		t.Fatal("rotated the key of an unknown authentication")
	} else if status, _ := codeOf(t, err); status != 404 {
		t.Fatalf("got %d, want 404", status)
	}
	if _, err := f.s.RotateAPIKey(ctx, 1001, f.b.AuthenticationID); err == nil {
		t.Fatal("rotated the key of another store's authentication")
	}
}

func TestPasswordWithoutCredentials(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// An authentication created through the API, without a password.
	appID := db.NewID()
	if err := f.st.Insert(ctx, CollAuthentications, db.Doc{"_id": appID, "store_id": int64(1000), "username": "myapp"}); err != nil {
		t.Fatal(err)
	}
	login := func(user, pass string) error {
		_, err := f.s.Login(ctx, 1000, []byte(`{"username":"`+user+`","pass_md5_hash":"`+md5hex(pass)+`"}`), "")
		return err
	}
	if err := login("myapp", ""); err == nil {
		t.Fatal("logged in without a password")
	}
	key, err := f.s.RotateAPIKey(ctx, 1000, appID)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"_id": appID, "api_key": key})
	if _, err := f.s.Authenticate(ctx, 1000, body); err != nil {
		t.Fatalf("api key of a password-less authentication: %v", err)
	}
	if err := f.s.SetPassword(ctx, 1000, appID, strings.ToUpper(md5hex("s3cret"))); err != nil {
		t.Fatal(err)
	}
	if err := login("myapp", "s3cret"); err != nil {
		t.Fatalf("login after SetPassword: %v", err)
	}
	if _, err := f.s.Authenticate(ctx, 1000, body); err != nil {
		t.Fatalf("SetPassword changed the api key: %v", err)
	}
	if err := f.s.SetPassword(ctx, 1000, appID, md5hex("other")); err != nil {
		t.Fatal(err)
	}
	if err := login("myapp", "s3cret"); err == nil {
		t.Fatal("the old password still logs in")
	}
	if err := f.s.SetPassword(ctx, 1000, appID, "plain"); err == nil {
		t.Fatal("accepted a password that is not an md5 hex")
	} else if status, _ := codeOf(t, err); status != 400 {
		t.Fatalf("got %d, want 400", status)
	}
	if err := f.s.SetPassword(ctx, 1000, db.NewID(), md5hex("x")); err == nil {
		t.Fatal("set the password of an unknown authentication")
	} else if !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("got %v, want a 404 wrapping db.ErrNotFound", err)
	}

	// Deleting the credentials ends password and key; re-creating them does not bring the
	// old key back.
	if err := f.s.DeleteCredentials(ctx, 1000, appID); err != nil {
		t.Fatal(err)
	}
	if err := f.s.DeleteCredentials(ctx, 1000, appID); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if err := login("myapp", "other"); err == nil {
		t.Fatal("logged in after DeleteCredentials")
	}
	if _, err := f.s.Authenticate(ctx, 1000, body); err == nil {
		t.Fatal("authenticated after DeleteCredentials")
	}
	if err := f.s.SetPassword(ctx, 1000, appID, md5hex("again")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Authenticate(ctx, 1000, body); err == nil {
		t.Fatal("re-created credentials revived the old api key")
	}
}

func TestCredentialsHoldNoSecrets(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pass := md5hex(f.b.Password)
	for _, coll := range []string{CollCredentials, CollAuthentications, CollStores} {
		docs, err := f.st.Find(ctx, coll, db.Query{StoreID: 1000, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(docs) != 1 {
			t.Fatalf("%s: got %d documents, want 1", coll, len(docs))
		}
		dump, _ := json.Marshal(docs)
		for _, secret := range []string{f.b.Password, pass, strings.ToUpper(pass), f.b.APIKey} {
			if strings.Contains(string(dump), secret) {
				t.Fatalf("%s holds a secret: %s", coll, dump)
			}
		}
	}
	cred, err := f.st.Get(ctx, CollCredentials, 1000, f.b.AuthenticationID)
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := cred["password_hash"].(string)
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(pass)) != nil {
		t.Fatalf("password_hash %q is not a bcrypt hash of the md5", hash)
	}
	if _, ok := keyVersionOf(cred); !ok {
		t.Fatalf("no key_version in %v", cred)
	}
	for _, k := range []string{"created_at", "updated_at"} {
		if _, err := time.Parse(db.TimeLayout, fmt.Sprint(cred[k])); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	// A dump with another server secret cannot produce the key.
	other := *f.s
	other.secret = []byte(strings.Repeat("x", 32))
	v, _ := keyVersionOf(cred)
	if other.apiKey(1000, f.b.AuthenticationID, v) == f.b.APIKey {
		t.Fatal("the api key does not depend on the server secret")
	}
}

func TestCreateStore(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)}
	st := openStore(t)
	s := newService(t, st, AudienceSandbox, clk.Now)

	b, err := s.CreateStore(ctx, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b.StoreID != 1000 || b.Username != "admin" || len(b.Password) < 16 || len(b.APIKey) != 64 || !db.ValidID(b.AuthenticationID) {
		t.Fatalf("got %+v, want store 1000 with admin credentials", b)
	}
	for _, r := range b.Password {
		if r < '!' || r > '~' {
			t.Fatalf("password %q has a non-printable character", b.Password)
		}
	}
	stores, err := st.Find(ctx, CollStores, db.Query{StoreID: 1000, Limit: 10})
	if err != nil || len(stores) != 1 {
		t.Fatalf("got %v %v, want one stores document", stores, err)
	}
	sd := stores[0]
	want := map[string]any{
		"name": "Store 1000", "corporate_name": "Store 1000", "segment_id": json.Number("0"), "doc_type": "CNPJ",
		"doc_number": "0", "financial_email": DefaultFinancialEmail, "store_id": json.Number("1000"),
		"created_at": "2026-01-02T03:04:05.006Z", "updated_at": "2026-01-02T03:04:05.006Z",
	}
	for k, v := range want {
		if sd[k] != v {
			t.Errorf("stores.%s: got %#v, want %#v", k, sd[k], v)
		}
	}
	if id, _ := sd["_id"].(string); !db.ValidID(id) {
		t.Errorf("stores._id %q is not an id", id)
	}
	ad, err := st.Get(ctx, CollAuthentications, 1000, b.AuthenticationID)
	if err != nil {
		t.Fatal(err)
	}
	if perms := permissionsOf(ad["permissions"]); len(perms) != 1 || len(perms["*"]) != 1 || perms["*"][0] != "all" {
		t.Fatalf("got permissions %v, want {\"*\":[\"all\"]}", ad["permissions"])
	}
	if _, ok := ad["email"]; ok {
		t.Fatalf("admin without e-mail got one: %v", ad)
	}
	if ok, err := s.StoreExists(ctx, 1000); !ok || err != nil {
		t.Fatalf("StoreExists(1000) = %v %v", ok, err)
	}
	if ok, err := s.StoreExists(ctx, 1001); ok || err != nil {
		t.Fatalf("StoreExists(1001) = %v %v", ok, err)
	}

	// The credentials log in.
	lr, err := s.Login(ctx, 1000, []byte(`{"username":"admin","pass_md5_hash":"`+md5hex(b.Password)+`"}`), "")
	if err != nil || lr.APIKey != b.APIKey || lr.ID != b.AuthenticationID {
		t.Fatalf("login: got %+v %v", lr, err)
	}

	_, err = s.CreateStore(ctx, StoreOptions{StoreID: 1000})
	if !errors.Is(err, ErrStoreExists) {
		t.Fatalf("got %v, want ErrStoreExists", err)
	}
	if status, code := codeOf(t, err); status != http.StatusConflict || code != CodeStoreExists {
		t.Fatalf("got %d %v, want 409 %d", status, code, CodeStoreExists)
	}

	if _, err := s.CreateStore(ctx, StoreOptions{StoreID: 1002, Name: "Explicit", Email: "a@b.co"}); err != nil {
		t.Fatal(err)
	}
	var got []int64
	for range 3 {
		b, err := s.CreateStore(ctx, StoreOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b.StoreID)
	}
	if fmt.Sprint(got) != "[1001 1003 1004]" {
		t.Fatalf("got automatic ids %v, want [1001 1003 1004]", got)
	}

	// Invalid options.
	for _, o := range []StoreOptions{{StoreID: -1}, {Email: "not an e-mail"}, {Name: strings.Repeat("n", 256)}} {
		if _, err := s.CreateStore(ctx, o); err == nil {
			t.Errorf("CreateStore(%+v) succeeded", o)
		} else if status, _ := codeOf(t, err); status != 400 {
			t.Errorf("CreateStore(%+v): got %d, want 400", o, status)
		}
	}
}

func TestCreateStoreReservations(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	st := openStore(t)
	s := newService(t, st, AudienceProduction, clk.Now)

	// A fresh reservation without a store: another creator is at work.
	if ok, err := s.tryReserve(ctx, 2000); !ok || err != nil {
		t.Fatal(ok, err)
	}
	_, err := s.CreateStore(ctx, StoreOptions{StoreID: 2000})
	if !errors.Is(err, ErrStoreExists) {
		t.Fatalf("got %v, want ErrStoreExists while reserved", err)
	}
	// A stale one (a crashed creator, or a store purged since) is taken over.
	clk.Add(2 * staleReservation)
	if _, err := s.CreateStore(ctx, StoreOptions{StoreID: 2000}); err != nil {
		t.Fatalf("stale reservation not taken over: %v", err)
	}

	// Concurrent creators of one id: exactly one wins. Concurrent automatic ids differ.
	var wg sync.WaitGroup
	errs := make([]error, 6)
	ids := make([]int64, 6)
	for i := range errs {
		wg.Go(func() {
			o := StoreOptions{StoreID: 3000}
			if i%2 == 1 {
				o.StoreID = 0
			}
			b, err := s.CreateStore(ctx, o)
			errs[i], ids[i] = err, b.StoreID
		})
	}
	wg.Wait()
	wins := 0
	seen := map[int64]bool{}
	for i, err := range errs {
		if i%2 == 0 {
			if err == nil {
				wins++
			} else if !errors.Is(err, ErrStoreExists) {
				t.Fatalf("creator %d: %v", i, err)
			}
			continue
		}
		if err != nil || seen[ids[i]] || ids[i] < FirstStoreID {
			t.Fatalf("automatic creator %d: id %d, %v (seen %v)", i, ids[i], err, seen)
		}
		seen[ids[i]] = true
	}
	if wins != 1 {
		t.Fatalf("got %d creators of store 3000, want 1", wins)
	}
	if n, err := st.Count(ctx, CollAuthentications, 3000, nil); n != 1 || err != nil {
		t.Fatalf("store 3000 has %d authentications (%v), want 1", n, err)
	}
}

// BenchmarkLogin compares the work of each Login answer at the default bcrypt cost: a
// wrong password and an unknown user must cost about the same.
func BenchmarkLogin(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	if err := f.s.setCost(bcrypt.DefaultCost); err != nil {
		b.Fatal(err)
	}
	pass := md5hex(f.b.Password)
	if err := f.s.SetPassword(ctx, 1000, f.b.AuthenticationID, pass); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, body string }{
		{"ok", `{"username":"admin","pass_md5_hash":"` + pass + `"}`},
		{"wrong password", `{"username":"admin","pass_md5_hash":"` + md5hex("x") + `"}`},
		{"unknown user", `{"username":"nobody","pass_md5_hash":"` + pass + `"}`},
		{"unknown email", `{"email":"nobody@example.com","pass_md5_hash":"` + pass + `"}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				_, _ = f.s.Login(ctx, 1000, []byte(bc.body), "")
			}
		})
	}
}

// BenchmarkVerify measures the per-request token check (the memStore Get included).
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	tr := f.token(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := f.s.Verify(ctx, 1000, tr.MyID, tr.AccessToken); err != nil {
			b.Fatal(err)
		}
	}
}
