package middleware

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseTrustedProxies(t *testing.T) {
	tests := []struct {
		name    string
		list    string
		want    string
		wantErr bool
	}{
		{"empty", "", "", false},
		{"cidrs and addresses", "10.0.0.0/8, 192.0.2.7 fd00::/8", "10.0.0.0/8,192.0.2.7/32,fd00::/8", false},
		{"unmasked cidr", "10.1.2.3/8", "10.0.0.0/8", false},
		{"mapped", "::ffff:10.0.0.0/104", "10.0.0.0/8", false},
		{"bad cidr", "10.0.0.0/33", "", true},
		{"not an address", "proxy.example", "", true},
		{"mapped too short", "::ffff:0.0.0.0/90", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTrustedProxies(tt.list)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && got.String() != tt.want {
				t.Errorf("got %q, want %q", got.String(), tt.want)
			}
		})
	}
}

func TestClientIP(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		trusted TrustedProxies
		remote  string
		xff     []string
		want    string
	}{
		{"no proxies: the peer", TrustedProxies{}, "203.0.113.9:5555", []string{"1.2.3.4"}, "203.0.113.9"},
		{"untrusted peer: header ignored", trusted, "203.0.113.9:5555", []string{"1.2.3.4"}, "203.0.113.9"},
		{"trusted peer, one hop", trusted, "10.0.0.1:80", []string{"198.51.100.7"}, "198.51.100.7"},
		{"right-most untrusted wins", trusted, "10.0.0.1:80", []string{"6.6.6.6, 198.51.100.7, 10.0.0.2"}, "198.51.100.7"},
		{"spoofed left entries ignored", trusted, "10.0.0.1:80", []string{"1.1.1.1", "198.51.100.7"}, "198.51.100.7"},
		{"several header lines", trusted, "10.0.0.1:80", []string{"198.51.100.7", "10.0.0.3"}, "198.51.100.7"},
		{"all trusted: left-most", trusted, "10.0.0.1:80", []string{"10.0.0.9, 10.0.0.2"}, "10.0.0.9"},
		{"no header: the proxy", trusted, "10.0.0.1:80", nil, "10.0.0.1"},
		{"garbage stops the walk", trusted, "10.0.0.1:80", []string{"198.51.100.7, nonsense, 10.0.0.2"}, "10.0.0.2"},
		{"ipv6 peer and entry", trusted, "[2001:db8::1]:443", []string{"2001:db9::5"}, "2001:db9::5"},
		{"entry with port", trusted, "10.0.0.1:80", []string{"198.51.100.7:1234"}, "198.51.100.7"},
		{"bracketed ipv6 entry", trusted, "10.0.0.1:80", []string{"[2001:db9::5]"}, "2001:db9::5"},
		{"mapped peer", TrustedProxies{}, "[::ffff:192.0.2.1]:80", nil, "192.0.2.1"},
		{"empty entries skipped", trusted, "10.0.0.1:80", []string{"198.51.100.7, , "}, "198.51.100.7"},
		{"unix socket peer", trusted, "@", []string{"198.51.100.7"}, "invalid IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/products.json", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := tt.trusted.ClientIP(r).String(); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestClientIPHopBound(t *testing.T) {
	trusted, _ := ParseTrustedProxies("10.0.0.0/8")
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:80"
	r.Header.Set("X-Forwarded-For", "198.51.100.7,"+strings.Repeat("10.0.0.5,", 10000)+"10.0.0.6")
	// The client is beyond the hops looked at: the last trusted hop seen stands in.
	if got := trusted.ClientIP(r); !trusted.Trusts(got) {
		t.Errorf("got %s, want a trusted hop", got)
	}
}

func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:80", "198.51.100.7, 10.0.0.2")
	f.Add("[2001:db8::1]:443", "[::1], x, ,,")
	f.Add("garbage", "1.2.3.4:5")
	trusted, _ := ParseTrustedProxies("10.0.0.0/8, 2001:db8::/32, 127.0.0.1")
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		got := trusted.ClientIP(r)
		peer := parseHost(remote)
		if !trusted.Trusts(peer) && got != peer {
			t.Fatalf("untrusted peer %s: got %s", peer, got)
		}
		if got == peer {
			return
		}
		found := false
		for _, e := range strings.Split(xff, ",") {
			if parseHost(strings.TrimSpace(e)) == got {
				found = true
			}
		}
		if !found {
			t.Fatalf("got %s from neither the peer %q nor the header %q", got, remote, xff)
		}
	})
}
