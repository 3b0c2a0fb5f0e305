package generations_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lmn-heal/lmn/internal/generations"
)

const goodRecord = `{
  "known_good": {"generation": 6, "store_path": "/nix/store/aaaa-nixos-system-6", "at": "2026-03-01T10:00:00.000000000Z"},
  "rejected": [{"generation": 7, "store_path": "/nix/store/bbbb-nixos-system-7", "at": "2026-03-01T11:00:00Z", "reason": "judged unhealthy"}],
  "rollbacks": [{"at": "2026-03-01T11:00:00Z", "from": {"generation": 7, "store_path": "/nix/store/bbbb-nixos-system-7"}, "to": {"generation": 6, "store_path": "/nix/store/aaaa-nixos-system-6"}}]
}`

func TestParseRecord(t *testing.T) {
	r, err := generations.Parse([]byte(goodRecord))
	if err != nil {
		t.Fatal(err)
	}
	if r.KnownGood == nil || r.KnownGood.Generation != 6 || len(r.Rejected) != 1 || len(r.Rollbacks) != 1 {
		t.Fatalf("%+v", r)
	}
	if e, ok := r.Rejection("/nix/store/bbbb-nixos-system-7"); !ok || e.Generation != 7 {
		t.Errorf("Rejection = %+v, %v", e, ok)
	}
	if _, ok := r.Rejection("/nix/store/aaaa-nixos-system-6"); ok {
		t.Error("the known-good system is rejected")
	}
}

// A bad record names its field: lmn-privd refuses to switch on a record
// it cannot read, and the person fixing it needs to know where.
func TestParseRecordErrors(t *testing.T) {
	for in, want := range map[string]string{
		`{"rejected": [{"store_path": "nix/store/x", "at": "2026-03-01T11:00:00Z", "reason": ""}]}`:                      `rejected[0].store_path: "nix/store/x" is not a clean absolute path`,
		`{"rejected": [{"store_path": "/nix/store/x", "generation": -1, "at": "2026-03-01T11:00:00Z"}]}`:                 `rejected[0].generation: -1 is negative`,
		`{"rollbacks": [{"at": "2026-03-01T11:00:00Z", "from": {"store_path": "/a/../b"}, "to": {"store_path": "/x"}}]}`: `rollbacks[0].from.store_path`,
		`{"known_good": {"store_path": "/x", "at": "yesterday"}}`:                                                        "known_good.at",
		`{"rejected": [], "extra": 1}`: "extra",
		`{"rejected": [`:               "not closed",
		``:                             "empty",
	} {
		_, err := generations.Parse([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%s) = %v, want an error containing %q", in, err, want)
		}
	}
	path := filepath.Join(t.TempDir(), "generations.json")
	os.WriteFile(path, []byte(`{"rejected": 3}`), 0o644)
	if _, err := generations.Load(path); err == nil || !strings.HasPrefix(err.Error(), path+": rejected") {
		t.Errorf("Load names file and field: %v", err)
	}
	if r, err := generations.Load(filepath.Join(t.TempDir(), "absent.json")); err != nil || len(r.Rejected) != 0 {
		t.Errorf("a missing record is an empty one: %+v %v", r, err)
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add([]byte(goodRecord))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"rejected": null, "rollbacks": [{"at": "2026-03-01T11:00:00Z", "from": {}, "to": {}}]}`))
	f.Add([]byte(`{"known_good": {"store_path": "/", "at": "2026-03-01T11:00:00+02:00"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := generations.Parse(data)
		if err != nil {
			return
		}
		// What parses is what lmn-privd writes back: it must parse again.
		path := filepath.Join(t.TempDir(), "g.json")
		if err := generations.Update(path, func(got *generations.Record) error { *got = r; return nil }); err != nil {
			t.Fatalf("write back %+v: %v", r, err)
		}
		if _, err := generations.Load(path); err != nil {
			t.Fatalf("read back: %v", err)
		}
	})
}

// Update is the only writer: it keeps the file world-readable, caps each
// list, and loses no entry when two writers (the daemon and `lmn-privd
// exec`) update it at once.
func TestUpdate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "generations.json")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := generations.Update(path, func(r *generations.Record) error {
				r.Rejected = append(r.Rejected, generations.Rejection{StorePath: "/nix/store/x" + itoa(i+1), Reason: "test"})
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	r, err := generations.Load(path)
	if err != nil || len(r.Rejected) != 20 {
		t.Fatalf("%d rejections after 20 concurrent updates, %v", len(r.Rejected), err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v %v, want 0644: lmn-collect reads it", fi.Mode().Perm(), err)
	}
	err = generations.Update(path, func(r *generations.Record) error {
		for i := range 100 {
			r.Rollbacks = append(r.Rollbacks, generations.Rollback{At: at(time.Duration(i) * time.Minute),
				From: generations.Ref{StorePath: "/nix/store/f" + itoa(i+1)}, To: generations.Ref{StorePath: "/nix/store/t"}})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r, _ = generations.Load(path)
	if len(r.Rollbacks) != generations.MaxEntries || r.Rollbacks[0].From.StorePath != "/nix/store/f37" {
		t.Errorf("%d rollbacks kept, oldest %s; want the newest %d", len(r.Rollbacks), r.Rollbacks[0].From.StorePath, generations.MaxEntries)
	}
}
