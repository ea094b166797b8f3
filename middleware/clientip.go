package middleware

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// maxForwardedHops bounds how many X-Forwarded-For entries ClientIP looks at, so a
// header of a million commas costs no more than a short one.
const maxForwardedHops = 32

// TrustedProxies are the networks of the reverse proxies (load balancers, CDNs) whose
// X-Forwarded-For header is believed. The zero value trusts nobody: the client is
// always the peer of the connection.
type TrustedProxies struct {
	prefixes []netip.Prefix
}

// ParseTrustedProxies reads a list of networks separated by commas or spaces, each a
// CIDR ("10.0.0.0/8", "fd00::/8") or a single address ("192.0.2.7"). An empty list
// trusts nobody. An entry that is neither is an error naming it.
func ParseTrustedProxies(list string) (TrustedProxies, error) {
	var t TrustedProxies
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return TrustedProxies{}, fmt.Errorf("middleware: trusted proxy %q is not a CIDR network: %w", f, err)
			}
			if p.Addr().Is4In6() {
				bits := p.Bits() - 96
				if bits < 0 {
					return TrustedProxies{}, fmt.Errorf("middleware: trusted proxy %q is not a CIDR network", f)
				}
				p = netip.PrefixFrom(p.Addr().Unmap(), bits)
			}
			t.prefixes = append(t.prefixes, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return TrustedProxies{}, fmt.Errorf("middleware: trusted proxy %q is not an IP address: %w", f, err)
		}
		a = a.Unmap().WithZone("")
		t.prefixes = append(t.prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	return t, nil
}

// String lists the trusted networks, for the configuration log.
func (t TrustedProxies) String() string {
	parts := make([]string, len(t.prefixes))
	for i, p := range t.prefixes {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}

// Trusts reports whether a is inside one of the trusted networks.
func (t TrustedProxies) Trusts(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP returns the address of the client that sent r. It is the peer of the
// connection (r.RemoteAddr) unless that peer is a trusted proxy; then X-Forwarded-For
// is read from the right (the entry the nearest proxy appended) towards the left,
// skipping trusted proxies, and the first address that is not trusted is the client.
// Entries left of it were written by the client itself and are never believed.
// When every entry is trusted the left-most one is the client; when an entry is not an
// address the walk stops and the last trusted address before it is the client.
// IPv4-mapped IPv6 addresses are returned as IPv4. The zero Addr means the peer is not
// an IP address (a unix socket).
func (t TrustedProxies) ClientIP(r *http.Request) netip.Addr {
	peer := parseHost(r.RemoteAddr)
	if len(t.prefixes) == 0 || !t.Trusts(peer) {
		return peer
	}
	client := peer
	hops := 0
	values := r.Header.Values("X-Forwarded-For")
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for v != "" {
			var entry string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				entry, v = v[j+1:], v[:j]
			} else {
				entry, v = v, ""
			}
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			hops++
			if hops > maxForwardedHops {
				return client
			}
			a := parseHost(entry)
			if !a.IsValid() {
				return client
			}
			if !t.Trusts(a) {
				return a
			}
			client = a
		}
	}
	return client
}

// parseHost reads an address as RemoteAddr and X-Forwarded-For write it: "ip:port",
// "[ipv6]:port", a bare IPv4 or IPv6 address, or "[ipv6]". It returns the zero Addr
// when s is none of these.
func parseHost(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("")
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a.Unmap().WithZone("")
		}
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return a.Unmap().WithZone("")
		}
	}
	return netip.Addr{}
}
