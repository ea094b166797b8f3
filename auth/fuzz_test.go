package auth

import (
	"context"
	"errors"
	"testing"

	"storeapi/apierror"
)

// checkAnswer fails unless err is nil or a client answer of the given statuses.
func checkAnswer(t *testing.T, err error, statuses ...int) {
	t.Helper()
	if err == nil {
		return
	}
	var e *apierror.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want an *apierror.Error", err)
	}
	for _, s := range statuses {
		if e.Status == s {
			return
		}
	}
	t.Fatalf("got status %d (%v), want one of %v", e.Status, err, statuses)
}

func FuzzLogin(f *testing.F) {
	fx := newFixture(f)
	pass := md5hex(fx.b.Password)
	for _, seed := range []struct{ body, query string }{
		{`{"username":"admin","pass_md5_hash":"` + pass + `"}`, ""},
		{`{"email":"owner@example.com","pass_md5_hash":"` + pass + `"}`, ""},
		{`{"pass_md5_hash":"` + pass + `"}`, "admin"},
		{`{"username":"a@","pass_md5_hash":"00000000000000000000000000000000"}`, ""},
		{``, ""}, {`{`, ""}, {`[]`, ""}, {`{"username":1}`, ""}, {`{"email":"\u0000"}`, "\xff"},
	} {
		f.Add([]byte(seed.body), seed.query)
	}
	f.Fuzz(func(t *testing.T, body []byte, query string) {
		_, err := fx.s.Login(context.Background(), 1000, body, query)
		checkAnswer(t, err, 400, 401)
	})
}

func FuzzAuthenticate(f *testing.F) {
	fx := newFixture(f)
	for _, seed := range []string{
		`{"_id":"` + fx.b.AuthenticationID + `","api_key":"` + fx.b.APIKey + `"}`,
		`{"_id":"` + fx.b.AuthenticationID + `"}`, `{"_id":null,"api_key":[]}`, ``, `"x"`, `{"_id":"ZZ"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		tr, err := fx.s.Authenticate(context.Background(), 1000, body)
		checkAnswer(t, err, 400, 401)
		if err == nil && tr.MyID != fx.b.AuthenticationID {
			t.Fatalf("got a token for %q", tr.MyID)
		}
	})
}

func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	tr := fx.token(f)
	f.Add(tr.MyID, tr.AccessToken)
	f.Add(tr.MyID, tr.AccessToken+"x")
	f.Add("", "a.b.c")
	f.Add(tr.MyID, "eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, myID, token string) {
		id, err := fx.s.Verify(context.Background(), 1000, myID, token)
		checkAnswer(t, err, 401)
		if err == nil && id.AuthenticationID != fx.b.AuthenticationID {
			t.Fatalf("accepted %q for %q", token, myID)
		}
	})
}
