package sqlite

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"storeapi/db"
)

// crashEnv names the database file a re-executed test binary writes to until killed.
const crashEnv = "STOREAPI_SQLITE_CRASH_DB"

// TestCrashChild is the child half of TestCrash: it does nothing unless crashEnv is
// set. It inserts documents (with multikey values) and bumps a counter forever,
// printing each acknowledged write.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("only runs as the child of TestCrash")
	}
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	for i := 0; ; i++ {
		id := fmt.Sprintf("%024x", i+1)
		doc := db.Doc{"_id": id, "store_id": int64(1), "n": int64(i), "tags": []any{"t" + strconv.Itoa(i%7), "all"}}
		if err := s.Insert(ctx, "crash", doc); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Println("ins", id)
		if _, err := s.Update(ctx, "crash", 1, "counter", func(d db.Doc) (db.Doc, error) {
			k, _ := d["k"].(json.Number).Int64()
			d["k"] = k + 1
			return d, nil
		}); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Println("upd", i+1)
	}
}

// TestCrash kills a writing process with SIGKILL and checks that every write it
// acknowledged is in the database when it is opened again.
func TestCrash(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("child")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureIndexes(t.Context(), "crash", []db.Index{{Paths: []string{"tags"}}, {Paths: []string{"n"}, Unique: true}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Insert(t.Context(), "crash", db.Doc{"_id": "counter", "store_id": int64(1), "k": int64(0)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	lastUpd := 0
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "ins":
			acked = append(acked, f[1])
		case len(f) == 2 && f[0] == "upd":
			lastUpd, _ = strconv.Atoi(f[1])
		case len(f) > 0 && f[0] == "error":
			t.Errorf("child: %s", sc.Text())
		}
		if len(acked) == 300 && !killed {
			// Kill mid-stream; lines already written to the pipe are still read.
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatalf("child ended by itself after %d inserts", len(acked))
	}

	s, err = Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close(t.Context())
	ctx := t.Context()
	for _, id := range acked {
		if _, err := s.Get(ctx, "crash", 1, id); err != nil {
			t.Errorf("acknowledged insert %s lost: %v", id, err)
		}
	}
	c, err := s.Get(ctx, "crash", 1, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := c["k"].(json.Number).Int64(); k < int64(lastUpd) {
		t.Errorf("counter = %d; %d updates were acknowledged", k, lastUpd)
	}
	t.Logf("%d inserts and %d updates acknowledged before SIGKILL; counter %v", len(acked), lastUpd, c["k"])
	// The side table agrees with the documents that survived.
	total, err := s.Count(ctx, "crash", 1, []db.Cond{{Path: "tags", Op: db.OpEq, Values: []db.Value{{Typed: "all", Raw: "all"}}}})
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.Count(ctx, "crash", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if total != all-1 || total < int64(len(acked)) {
		t.Errorf("tags=all counts %d of %d documents (%d acknowledged)", total, all, len(acked))
	}
	docs, err := s.Find(ctx, "crash", db.Query{StoreID: 1})
	if err != nil || int64(len(docs)) != all {
		t.Errorf("Count = %d, but Find returns %d documents (%v)", all, len(docs), err)
	}
	// And the database still takes writes.
	if err := s.Insert(ctx, "crash", db.Doc{"_id": "after", "store_id": int64(1), "n": int64(-1)}); err != nil {
		t.Errorf("Insert after reopen: %v", err)
	}
}
