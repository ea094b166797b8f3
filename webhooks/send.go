package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"storeapi/db"
)

// UserAgent is the User-Agent of webhook calls.
const UserAgent = "storeapi-webhooks/1"

// maxErrorText bounds the answer text kept in last_error.
const maxErrorText = 256

// ErrRefusedAddress is wrapped by the error of a call whose target address is not
// allowed (see Options.AllowPrivate).
var ErrRefusedAddress = errors.New("webhooks: address not allowed")

// outcome is the result of one attempt.
type outcome struct {
	ok        bool   // 2xx
	status    int    // the answer's status, 0 without an answer
	err       string // why it failed, "" when ok
	permanent bool   // retrying cannot help: fail now
}

func failed(status int, permanent bool, format string, args ...any) outcome {
	return outcome{status: status, permanent: permanent, err: fmt.Sprintf(format, args...)}
}

// reserved are the prefixes refused besides what netip's predicates cover: "this
// network", CGNAT, IETF protocol assignments, documentation and benchmarking ranges,
// the reserved 240/4 and broadcast; IPv4-compatible IPv6, discard-only, Teredo,
// documentation and site-local IPv6.
var reserved = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
		"::/96", "100::/64", "2001::/32", "2001:db8::/32", "fec0::/10",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// nat64 and sixToFour embed an IPv4 address, which is checked in turn.
var (
	nat64     = []netip.Prefix{netip.MustParsePrefix("64:ff9b::/96"), netip.MustParsePrefix("64:ff9b:1::/48")}
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// Refused reports whether a call to ip is refused unless Options.AllowPrivate: loopback,
// link-local, private (RFC 1918, ULA), CGNAT, unspecified, multicast, documentation and
// reserved addresses, and IPv6 addresses embedding such an IPv4 address (mapped, NAT64,
// 6to4).
func Refused(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsPrivate() || ip.IsUnspecified() {
		return true
	}
	for _, p := range reserved {
		if p.Contains(ip) {
			return true
		}
	}
	if ip.Is6() {
		b := ip.As16()
		for _, p := range nat64 {
			if p.Contains(ip) {
				return Refused(netip.AddrFrom4([4]byte(b[12:16])))
			}
		}
		if sixToFour.Contains(ip) {
			return Refused(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	return false
}

// newClient returns the HTTP client of external calls: no proxy, no redirects, opts'
// timeout, and (unless opts.AllowPrivate) every dialled address checked by Refused
// after DNS resolution.
func newClient(opts Options) *http.Client {
	dialer := &net.Dialer{Timeout: opts.Timeout, KeepAlive: 30 * time.Second}
	if !opts.AllowPrivate {
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", ErrRefusedAddress, address)
			}
			ip, err := netip.ParseAddr(host)
			if err != nil || Refused(ip) {
				return fmt.Errorf("%w: %s", ErrRefusedAddress, host)
			}
			return nil
		}
	}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    opts.Timeout,
		ResponseHeaderTimeout:  opts.Timeout,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    opts.MaxInFlight,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   opts.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// call makes one attempt of a claimed delivery.
func (d *Dispatcher) call(ctx context.Context, del db.Doc) outcome {
	store, _ := toInt(del["store"])
	depth, _ := toInt(del["depth"])
	attempt, _ := toInt(del["attempt"])
	tr, err := d.opts.Store.Get(ctx, "triggers", store, text(del, "trigger_id"))
	if errors.Is(err, db.ErrNotFound) {
		return failed(0, true, "trigger not found")
	}
	if err != nil {
		return failed(0, false, "trigger not read")
	}
	spec, _ := del["spec"].(map[string]any)
	api, _ := spec["api"].(map[string]any)
	method, _ := spec["method"].(string)
	if method == "" {
		method = http.MethodPost
	}
	body, err := requestBody(spec, method, tr)
	if err != nil {
		return failed(0, true, "body not encoded: %v", err)
	}
	if ext, ok := api["external_api"].(map[string]any); ok {
		if !d.opts.External {
			return failed(0, true, "external calls are off")
		}
		return d.external(ctx, del, attempt, ext, method, body)
	}
	if sa, ok := api["store_api"].(map[string]any); ok {
		if d.opts.StoreAPI == nil {
			return failed(0, true, "store api calls are off")
		}
		ep, _ := sa["endpoint"].(string)
		path, err := Endpoint(ep, tr)
		if err != nil {
			return failed(0, true, "%v", err)
		}
		cctx, cancel := context.WithTimeout(WithDepth(ctx, int(depth)+1), d.opts.Timeout)
		defer cancel()
		status, resp, err := d.opts.StoreAPI(cctx, store, method, path, body)
		if err != nil {
			return failed(0, false, "store api: %v", err)
		}
		if status < 200 || status > 299 {
			return failed(status, false, "HTTP %d: %s", status, snippet(resp))
		}
		return outcome{ok: true, status: status}
	}
	return failed(0, true, "webhook names no api")
}

// requestBody is what a webhook sends: nothing for GET or send_body false, map_body
// filled in, or the trigger without its response.
func requestBody(spec map[string]any, method string, tr db.Doc) ([]byte, error) {
	if method == http.MethodGet || spec["send_body"] == false {
		return nil, nil
	}
	if mb, ok := spec["map_body"].(map[string]any); ok {
		return json.Marshal(MapBody(mb, tr))
	}
	out := make(map[string]any, len(tr))
	for k, v := range tr {
		if k != "response" {
			out[k] = v
		}
	}
	return json.Marshal(out)
}

// ownHeaders are the headers a procedure's headers[] cannot set.
var ownHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Connection": true,
	"Content-Type": true, "User-Agent": true, "X-Store-Id": true, "X-Trigger-Id": true,
	"X-Webhook-Id": true, "X-Webhook-Attempt": true, "X-Webhook-Signature": true,
}

// external calls an external_api webhook.
func (d *Dispatcher) external(ctx context.Context, del db.Doc, attempt int64, ext map[string]any, method string, body []byte) outcome {
	uri, _ := ext["uri"].(string)
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return failed(0, true, "uri not callable: %q", uri)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return failed(0, true, "request not built: %v", err)
	}
	hs, _ := ext["headers"].([]any)
	for _, h := range hs {
		m, _ := h.(map[string]any)
		name, _ := m["name"].(string)
		value, _ := m["value"].(string)
		name = http.CanonicalHeaderKey(name)
		if name == "" || ownHeaders[name] || strings.ContainsAny(value, "\r\n") {
			continue
		}
		req.Header.Add(name, value)
	}
	store, _ := toInt(del["store"])
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("X-Store-ID", strconv.FormatInt(store, 10))
	req.Header.Set("X-Trigger-ID", text(del, "trigger_id"))
	req.Header.Set("X-Webhook-ID", text(del, "_id"))
	req.Header.Set("X-Webhook-Attempt", strconv.FormatInt(attempt, 10))
	req.Header.Set(SignatureHeader, "sha256="+Sign(SigningKey(d.opts.Secret, store), body))
	resp, err := d.client.Do(req)
	if err != nil {
		if errors.Is(err, ErrRefusedAddress) {
			return failed(0, true, "address not allowed (%s)", u.Hostname())
		}
		return failed(0, false, "%s", callError(err))
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = io.Copy(&buf, io.LimitReader(resp.Body, maxErrorText))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, max(d.opts.MaxResponse-maxErrorText, 0)))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
		return outcome{ok: true, status: resp.StatusCode}
	case resp.StatusCode >= 300 && resp.StatusCode <= 399:
		return failed(resp.StatusCode, false, "HTTP %d: redirect to %q not followed", resp.StatusCode, resp.Header.Get("Location"))
	}
	return failed(resp.StatusCode, false, "HTTP %d: %s", resp.StatusCode, snippet(buf.Bytes()))
}

// callError describes a failed call without repeating the URI (the entry shows it).
func callError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return "timeout"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return err.Error()
}

// snippet is the start of an answer as valid UTF-8 text, at most maxErrorText bytes.
func snippet(b []byte) string {
	if len(b) > maxErrorText {
		b = b[:maxErrorText]
	}
	return strings.TrimSpace(strings.ToValidUTF8(string(b), ""))
}
