package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// SignatureHeader is the header that carries a webhook's signature, as
// "sha256=<hex HMAC-SHA256 of the body>".
const SignatureHeader = "X-Webhook-Signature"

// SigningKey returns the key the webhooks of one store are signed with:
// HMAC-SHA256(secret, "webhook|<storeID>"). The server's secret never leaves it; a
// store's key can be given to that store's admins without revealing any other's.
func SigningKey(secret []byte, storeID int64) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("webhook|" + strconv.FormatInt(storeID, 10)))
	return m.Sum(nil)
}

// Sign returns the hex HMAC-SHA256 of body under key: the X-Webhook-Signature header
// is "sha256=" followed by it.
func Sign(key, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether header (an X-Webhook-Signature value) is the signature of body
// under key, comparing in constant time. Receivers written in Go can use it as is.
func Verify(key, body []byte, header string) bool {
	got, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	want := Sign(key, body)
	return hmac.Equal([]byte(got), []byte(want))
}
