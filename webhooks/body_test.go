package webhooks

import (
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

const sampleTrigger = `{"_id":"aaaaaaaaaaaaaaaaaaaaaaaa","resource":"orders","resource_id":"bbbbbbbbbbbbbbbbbbbbbbbb",
	"action":"change","body":{"status":"paid","amount":{"total":12.5},"items":[{"sku":"S1"},{"sku":"S2"}],"weird":"a/b?c"}}`

func TestMapBody(t *testing.T) {
	tr := decode(t, sampleTrigger)
	tests := []struct {
		name, in, want string
	}{
		{"whole value keeps type", `{"total":"(tr.body.amount.total)"}`, `{"total":12.5}`},
		{"whole object", `{"amount":"(tr.body.amount)"}`, `{"amount":{"total":12.5}}`},
		{"array index", `{"sku":"(tr.body.items.1.sku)"}`, `{"sku":"S2"}`},
		{"interpolated", `{"text":"order (tr.resource_id) is (tr.body.status)"}`, `{"text":"order bbbbbbbbbbbbbbbbbbbbbbbb is paid"}`},
		{"interpolated non-string", `{"text":"total=(tr.body.amount)"}`, `{"text":"total={\"total\":12.5}"}`},
		{"missing whole is null", `{"x":"(tr.body.nope)"}`, `{"x":null}`},
		{"missing inside is empty", `{"x":"[(tr.body.nope)]"}`, `{"x":"[]"}`},
		{"nested and arrays", `{"a":{"b":["(tr.action)",1,true]}}`, `{"a":{"b":["change",1,true]}}`},
		{"no placeholder", `{"a":"tr.action","b":"(tr)","c":"(tr.)"}`, `{"a":"tr.action","b":"(tr)","c":"(tr.)"}`},
		{"index out of range", `{"a":"(tr.body.items.9.sku)"}`, `{"a":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := decode(t, tt.in)
			before, _ := json.Marshal(in)
			got, err := json.Marshal(MapBody(in, tr))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(decode(t, string(got)), decode(t, tt.want)) {
				t.Errorf("got %s want %s", got, tt.want)
			}
			if after, _ := json.Marshal(in); string(after) != string(before) {
				t.Errorf("input changed: %s", after)
			}
		})
	}
}

func TestEndpoint(t *testing.T) {
	tr := decode(t, sampleTrigger)
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{"default", "", "/orders.json", false},
		{"resource and id", "/(tr.resource)/(tr.resource_id).json", "/orders/bbbbbbbbbbbbbbbbbbbbbbbb.json", false},
		{"value escaped", "/products/(tr.body.weird).json", "/products/a%2Fb%3Fc.json", false},
		{"literal", "/orders/bbbbbbbbbbbbbbbbbbbbbbbb/payments_history.json", "/orders/bbbbbbbbbbbbbbbbbbbbbbbb/payments_history.json", false},
		{"missing value", "/orders/(tr.subresource_id).json", "", true},
		{"outside pattern", "/orders?x=1.json", "", true},
		{"no json suffix", "/orders", "", true},
		{"dot segment", "/../orders.json", "", true},
		{"empty segment", "//orders.json", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Endpoint(tt.in, tr)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, errEndpoint) {
				t.Errorf("error %v does not wrap errEndpoint", err)
			}
			if got != tt.want {
				t.Errorf("got %q want %q", got, tt.want)
			}
		})
	}
}

func TestRefused(t *testing.T) {
	tests := []struct {
		ip      string
		refused bool
	}{
		{"127.0.0.1", true}, {"127.8.9.10", true}, {"::1", true}, {"0.0.0.0", true}, {"::", true},
		{"10.1.2.3", true}, {"172.16.0.1", true}, {"192.168.1.1", true}, {"169.254.169.254", true},
		{"fe80::1", true}, {"fd00::1", true}, {"224.0.0.1", true}, {"ff02::1", true}, {"100.64.0.1", true},
		{"255.255.255.255", true}, {"::ffff:127.0.0.1", true}, {"::ffff:10.0.0.1", true},
		{"64:ff9b::a00:1", true}, {"2002:7f00:1::", true}, {"192.0.2.1", true},
		{"8.8.8.8", false}, {"1.1.1.1", false}, {"2606:4700:4700::1111", false}, {"::ffff:8.8.8.8", false},
		{"64:ff9b::808:808", false}, {"172.32.0.1", false},
	}
	for _, tt := range tests {
		if got := Refused(netip.MustParseAddr(tt.ip)); got != tt.refused {
			t.Errorf("Refused(%s) = %v want %v", tt.ip, got, tt.refused)
		}
	}
}

func TestSign(t *testing.T) {
	k1, k2 := SigningKey([]byte("s"), 1000), SigningKey([]byte("s"), 1001)
	if string(k1) == string(k2) {
		t.Fatal("two stores share a signing key")
	}
	if string(k1) == string(SigningKey([]byte("other"), 1000)) {
		t.Fatal("the key does not depend on the secret")
	}
	body := []byte(`{"a":1}`)
	sig := "sha256=" + Sign(k1, body)
	if len(sig) != len("sha256=")+64 {
		t.Errorf("signature %q is not 64 hex digits", sig)
	}
	if !Verify(k1, body, sig) {
		t.Error("own signature not verified")
	}
	for _, bad := range []string{Sign(k1, body), "sha256=" + Sign(k2, body), "sha256=" + Sign(k1, []byte(`{"a":2}`)), ""} {
		if Verify(k1, body, bad) {
			t.Errorf("bad signature %q verified", bad)
		}
	}
}

func FuzzMapBody(f *testing.F) {
	f.Add(`{"a":"(tr.body.items.0.sku)","b":"x (tr.resource) y","c":[{"d":"(tr.body)"}]}`)
	f.Add(`{"a":"(tr.body.amount.total.x.y)"}`)
	tr := decode(f, sampleTrigger)
	f.Fuzz(func(t *testing.T, in string) {
		var mb map[string]any
		if json.Unmarshal([]byte(in), &mb) != nil {
			return
		}
		if _, err := json.Marshal(MapBody(mb, tr)); err != nil {
			t.Fatalf("result not encodable: %v", err)
		}
	})
}

func FuzzEndpoint(f *testing.F) {
	f.Add("/(tr.resource)/(tr.resource_id).json", "bbbbbbbbbbbbbbbbbbbbbbbb")
	f.Add("/products/(tr.resource_id).json", "../../x")
	f.Add("/(tr.resource_id)/x.json", "..")
	f.Fuzz(func(t *testing.T, ep, value string) {
		tr := map[string]any{"resource": "orders", "resource_id": value}
		got, err := Endpoint(ep, tr)
		if err != nil {
			return
		}
		if !strings.HasPrefix(got, "/") || !strings.HasSuffix(got, ".json") {
			t.Fatalf("%q gave %q", ep, got)
		}
		for seg := range strings.SplitSeq(got[1:], "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("%q gave %q with segment %q", ep, got, seg)
			}
		}
		if strings.ContainsAny(got, "?#") {
			t.Fatalf("%q gave %q with a query or fragment", ep, got)
		}
	})
}
