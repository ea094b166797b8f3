package webhooks

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"storeapi/db"
	"storeapi/db/sqlite"
)

// crashEnv carries "<database path> <receiver URL>" to the child of TestCrash.
const crashEnv = "STOREAPI_WEBHOOKS_CRASH"

// TestCrashChild is the child half of TestCrash: it does nothing unless crashEnv is set,
// and then dispatches the database's queue until it is killed.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("only runs as the child of TestCrash")
	}
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(Options{Store: s, Secret: testSecret, AllowPrivate: true, External: true, MaxInFlight: 4,
		Poll: 5 * time.Millisecond, Timeout: 30 * time.Second, Lease: 31 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_ = d.Run(context.Background()) // until SIGKILL
}

// TestCrash kills a dispatching process with SIGKILL while a receiver holds one of its
// calls (sent, outcome not stored), then resumes from the database in this process: every
// delivery arrives, none is lost, and the one in flight at the crash is sent again with
// the same X-Webhook-ID.
func TestCrash(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("child")
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "t.db")
	const n, victim = 40, 10
	hit := make(chan string, 1)
	killed := make(chan struct{})
	var once sync.Once
	rcv := newReceiver(t, func(k int, h hook) int {
		if k == victim {
			once.Do(func() {
				hit <- h.Header.Get("X-Webhook-ID")
				<-killed // the sender dies before it learns the outcome
			})
		}
		return http.StatusOK
	})

	s := openStoreAt(t, path)
	pid := addProcedure(t, s, store, externalProc(rcv.URL))
	var triggers []string
	for range n {
		triggers = append(triggers, recordTrigger(t, s, store, nil)["_id"].(string))
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := os.Create(filepath.Join(t.TempDir(), "child.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var victimID string
	select {
	case victimID = <-hit:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		log, _ := os.ReadFile(out.Name())
		t.Fatalf("the child never made %d calls; its output:\n%s", victim, log)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	close(killed)
	before := len(rcv.hooks())

	// Resume: a new dispatcher whose clock is past the dead one's leases.
	s = openStoreAt(t, path)
	start(t, Options{Store: s, AllowPrivate: true, External: true,
		Now: func() time.Time { return time.Now().Add(2 * time.Minute) }})
	for _, id := range triggers {
		eventually(t, "trigger "+id+" delivered", func() bool { return entryStatus(t, s, store, id) == StatusDelivered })
	}

	ids := map[string][]string{}
	for _, h := range rcv.hooks() {
		id := h.Header.Get("X-Webhook-ID")
		ids[id] = append(ids[id], h.Header.Get("X-Webhook-Attempt"))
	}
	for _, tr := range triggers {
		if _, ok := ids[DeliveryID(tr, pid, 0)]; !ok {
			t.Errorf("trigger %s: never delivered", tr)
		}
	}
	if len(ids) != n {
		t.Errorf("%d delivery ids received, want %d", len(ids), n)
	}
	if got := ids[victimID]; len(got) < 2 || got[len(got)-1] == got[0] {
		t.Errorf("the call in flight at the crash: attempts %v, want it sent again with a later attempt number", got)
	}
	// The trigger is written just before its delivery: wait for the deliveries too.
	eventually(t, "queue and deliveries finished", func() bool {
		left, err1 := s.Count(context.Background(), QueueCollection, SystemStore, nil)
		pending, err2 := s.Count(context.Background(), DeliveryCollection, SystemStore,
			[]db.Cond{{Path: "status", Op: db.OpNe, Values: []db.Value{str(StatusDelivered)}}})
		return err1 == nil && err2 == nil && left == 0 && pending == 0
	})
	t.Logf("calls before the kill: %d, after: %d, for %d deliveries", before, len(rcv.hooks())-before, n)
}
