package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEcomClient runs the published npm clients @ecomplus/client and @ecomplus/auth
// (versions pinned in testdata/ecomclient/package-lock.json), unmodified, against a real
// server. They are pointed at it only through their own environment variables, as any
// deployment of an E-Com Plus app would: ECOMCLIENT_API_STORE (the "store" base, store
// in the X-Store-ID header), ECOMCLIENT_API_STORE_CACHE (the "storeCache" base, whose
// ":id" the client replaces with the store id) and ECOM_STORE_ID. testdata/ecomclient/test.js
// logs in with ecomAuth.login (MD5 of the password, _login?username, _authenticate) and
// with the lower-level ecomClient.store calls, creates, reads through both bases, patches,
// lists with filters and deletes a product, and checks every answer with node:assert.
//
// It runs twice: against production (/v1/, /:id/v1/, the bootstrap admin) and against
// the sandbox (/sandbox/v1/, /sandbox/:id/v1/, the admin of a store opened through
// POST /sandbox/v1/_sandbox.json), where test.js also checks that every answer carries
// X-Sandbox.
//
// It needs node and npm; without them it is skipped. A missing node_modules is installed
// with `npm ci` from the committed lock file (which needs the npm registry).
func TestEcomClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH: the published E-Com Plus JS clients cannot be run")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not on PATH: the published E-Com Plus JS clients cannot be installed")
	}
	dir, err := filepath.Abs(filepath.Join("testdata", "ecomclient"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@ecomplus", "auth", "package.json")); errors.Is(err, os.ErrNotExist) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
		}
	} else if err != nil {
		t.Fatal(err)
	}

	cfg := testConfig(t, "sqlite")
	cfg.Sandbox = SandboxOn
	ts := startWithConfig(t, cfg)
	t.Run("production", func(t *testing.T) {
		runEcomClient(t, node, dir, ts.base, "", ts.boot.StoreID, ts.boot.Username, ts.boot.Password, ts.boot.AuthenticationID)
	})
	t.Run("sandbox", func(t *testing.T) {
		o := ts.openSandbox(false, nil)
		runEcomClient(t, node, dir, ts.base, "/sandbox", o.StoreID, o.Username, o.Password, o.AuthenticationID)
	})
}

// runEcomClient runs test.js with the bases under prefix ("" or "/sandbox") and an
// admin's credentials.
func runEcomClient(t *testing.T, node, dir, base, prefix string, storeID int64, username, password, authID string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sandboxRun := ""
	if prefix != "" {
		sandboxRun = "1"
	}
	cmd := exec.CommandContext(ctx, node, "test.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"ECOMCLIENT_API_STORE="+base+prefix+"/v1/",
		"ECOMCLIENT_API_STORE_CACHE="+base+prefix+"/:id/v1/",
		fmt.Sprintf("ECOM_STORE_ID=%d", storeID),
		"STOREAPI_USERNAME="+username,
		"STOREAPI_PASSWORD="+password,
		"STOREAPI_AUTHENTICATION_ID="+authID,
		"STOREAPI_EXPECT_SANDBOX="+sandboxRun,
		// axios honours HTTP(S)_PROXY; the server is local.
		"NO_PROXY="+noProxy("127.0.0.1,localhost"),
		"no_proxy="+noProxy("127.0.0.1,localhost"),
		// Neither debug output nor the client's own timeouts switched off.
		"ECOMCLIENT_DEBUG=",
		"ECOMCLIENT_NOTIMEOUT=",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node test.js: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "\nPASS\n") && !strings.HasPrefix(string(out), "PASS\n") {
		t.Fatalf("node test.js exited 0 without PASS:\n%s", out)
	}
	t.Logf("node test.js:\n%s", out)
}

// noProxy is the environment's NO_PROXY list with hosts added.
func noProxy(hosts string) string {
	for _, k := range []string{"NO_PROXY", "no_proxy"} {
		if v := os.Getenv(k); v != "" {
			return v + "," + hosts
		}
	}
	return hosts
}
