package main

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run the real binary, as `go run .` would, over a temp data dir.

// buildBinary builds storeapi once per test run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "storeapi-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "storeapi")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// process is a running storeapi binary.
type process struct {
	cmd  *exec.Cmd
	base string
	log  *bytes.Buffer
	mu   *sync.Mutex
}

// lockedBuffer guards the log buffer the child writes to.
type lockedBuffer struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (l lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// listening matches the log line that says where the server listens.
var listening = regexp.MustCompile(`storeapi listening"? addr=(\S+)`)

// startBinary starts storeapi on a free port over dataDir and waits until it listens.
func startBinary(t *testing.T, dataDir string) *process {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--addr", "127.0.0.1:0", "--data-dir", dataDir)
	cmd.Env = append(os.Environ(), "MONGODB_URI=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, log: &bytes.Buffer{}, mu: &sync.Mutex{}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			_, _ = (lockedBuffer{p.mu, p.log}).Write([]byte(line + "\n"))
			if m := listening.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		p.base = "http://" + a
	case <-time.After(60 * time.Second):
		t.Fatalf("storeapi did not start; log:\n%s", p.logText())
	}
	return p
}

// logText is what the process logged so far.
func (p *process) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// bootstrapLogin logs in as the bootstrap admin and returns the headers to write with.
func bootstrapLogin(t *testing.T, base, dataDir string) http.Header {
	t.Helper()
	var boot struct {
		StoreID          int64  `json:"store_id"`
		AuthenticationID string `json:"authentication_id"`
		Username         string `json:"username"`
		Password         string `json:"password"`
	}
	data, err := os.ReadFile(filepath.Join(dataDir, "bootstrap.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &boot); err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum([]byte(boot.Password))
	h := http.Header{"X-Store-Id": {fmt.Sprint(boot.StoreID)}}
	var login map[string]any
	post(t, base+"/v1/_login.json", h, fmt.Sprintf(`{"username":%q,"pass_md5_hash":%q}`, boot.Username, hex.EncodeToString(sum[:])), &login)
	var token map[string]any
	post(t, base+"/v1/_authenticate.json", h, fmt.Sprintf(`{"_id":%q,"api_key":%q}`, login["_id"], login["api_key"]), &token)
	h.Set("X-My-ID", fmt.Sprint(token["my_id"]))
	h.Set("X-Access-Token", fmt.Sprint(token["access_token"]))
	return h
}

// post sends a JSON body and decodes a 2xx answer into out.
func post(t *testing.T, url string, h http.Header, body string, out any) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header = h.Clone()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %d %s", url, res.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatal(err)
	}
}

func TestBinaryBootstrapAndGracefulStop(t *testing.T) {
	dataDir := t.TempDir()
	p := startBinary(t, dataDir)
	log := p.logText()
	boot, _ := os.ReadFile(filepath.Join(dataDir, "bootstrap.json"))
	var b map[string]any
	_ = json.Unmarshal(boot, &b)
	for _, secret := range []string{fmt.Sprint(b["password"]), fmt.Sprint(b["api_key"])} {
		if secret == "" || strings.Contains(log, secret) {
			t.Errorf("the log shows a secret (%q) or bootstrap.json lacks it:\n%s", secret, log)
		}
	}
	if !strings.Contains(log, filepath.Join(dataDir, "bootstrap.json")) {
		t.Errorf("the log does not say where bootstrap.json is:\n%s", log)
	}
	h := bootstrapLogin(t, p.base, dataDir)

	// A request whose body is still arriving when SIGTERM comes is served, then the
	// process exits cleanly.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", p.base+"/v1/products.json", pr)
	req.Header = h.Clone()
	result := make(chan int, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			result <- -1
			return
		}
		res.Body.Close()
		result <- res.StatusCode
	}()
	_, _ = pw.Write([]byte(`{"sku":"in-flight",`))
	time.Sleep(200 * time.Millisecond) // let the request reach the handler
	// An operator creates a second store while the server runs.
	bin, _ := buildBinary()
	out, err := exec.Command(bin, "create-store", "--data-dir", dataDir, "--name", "Second", "--email", "o@example.com").Output()
	if err != nil {
		t.Fatalf("create-store while the server runs: %v", err)
	}
	var created map[string]any
	if err := json.Unmarshal(out, &created); err != nil || created["store_id"].(float64) != 1001 || created["password"] == "" {
		t.Fatalf("create-store printed %s", out)
	}
	res0, err := http.Get(p.base + "/1001/v1/stores/me.json")
	if err != nil || res0.StatusCode != http.StatusOK {
		t.Fatalf("the new store is not served: %v %v", err, res0)
	}
	res0.Body.Close()

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	_, _ = pw.Write([]byte(`"name":"drained"}`))
	_ = pw.Close()
	if status := <-result; status != http.StatusCreated {
		t.Errorf("in-flight request during shutdown: status %d, want 201\n%s", status, p.logText())
	}
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, p.logText())
	}
	if !strings.Contains(p.logText(), "storeapi stopped") {
		t.Errorf("no clean stop in the log:\n%s", p.logText())
	}
	// The drained write is there after a restart.
	p2 := startBinary(t, dataDir)
	res, err := http.Get(p2.base + "/1000/v1/products.json?sku=in-flight")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Meta struct{ Count int } `json:"meta"`
	}
	_ = json.NewDecoder(res.Body).Decode(&list)
	res.Body.Close()
	if list.Meta.Count != 1 {
		t.Errorf("drained product after restart: count %d, want 1", list.Meta.Count)
	}
}

func TestBinarySurvivesKill9(t *testing.T) {
	dataDir := t.TempDir()
	p := startBinary(t, dataDir)
	h := bootstrapLogin(t, p.base, dataDir)
	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("POST", p.base+"/v1/products.json",
					strings.NewReader(fmt.Sprintf(`{"sku":"k%d-%d","name":"kill test"}`, w, i)))
				req.Header = h.Clone()
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					return // the server is gone
				}
				var out map[string]string
				_ = json.NewDecoder(res.Body).Decode(&out)
				res.Body.Close()
				if res.StatusCode == http.StatusCreated {
					mu.Lock()
					acked = append(acked, out["_id"])
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	close(stop)
	wg.Wait()
	if len(acked) < 10 {
		t.Fatalf("only %d writes acknowledged before the kill", len(acked))
	}
	p2 := startBinary(t, dataDir)
	missing := 0
	for _, id := range acked {
		res, err := http.Get(p2.base + "/1000/v1/products/" + id + ".json")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			missing++
		}
	}
	t.Logf("%d writes acknowledged before kill -9, %d missing after restart", len(acked), missing)
	if missing > 0 {
		t.Errorf("%d of %d acknowledged writes lost by kill -9", missing, len(acked))
	}
	// Every stored product has its create trigger and no trigger names a write that did
	// not happen: the two were committed together.
	h2 := bootstrapLogin(t, p2.base, dataDir)
	count := func(path string) int {
		req, _ := http.NewRequest("GET", p2.base+path, nil)
		req.Header = h2.Clone()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var list struct {
			Meta struct{ Count int } `json:"meta"`
		}
		_ = json.NewDecoder(res.Body).Decode(&list)
		return list.Meta.Count
	}
	products := count("/v1/products.json?limit=1")
	triggers := count("/v1/triggers.json?resource=products&action=create&limit=1")
	if products != triggers || products < len(acked) {
		t.Errorf("after kill -9: %d products, %d create triggers, %d acknowledged", products, triggers, len(acked))
	}
}
