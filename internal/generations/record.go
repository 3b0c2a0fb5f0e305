package generations

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/lmn-heal/lmn/internal/config"
	"github.com/lmn-heal/lmn/internal/record"
	"github.com/lmn-heal/lmn/internal/statefile"
	"golang.org/x/sys/unix"
)

// Record is what lmn has judged about the system's generations, kept by
// lmn-privd (as root) across restarts in one JSON file, world-readable: it
// holds store paths, which are public, and nothing else.
//
// A generation is known by its store path: Nix reuses a number after the
// newest generation is deleted, never a store path for other contents.
type Record struct {
	// KnownGood is the last generation lmn saw run healthy (its gate
	// green), or nil: a garbage collection must keep it.
	KnownGood *Mark `json:"known_good,omitempty"`
	// Rejected are the systems lmn rolled back from, oldest first: lmn
	// never switches to one by itself.
	Rejected []Rejection `json:"rejected"`
	// Rollbacks are lmn's automatic switches, oldest first: the bounds
	// are counted from them.
	Rollbacks []Rollback `json:"rollbacks"`
}

// Ref names a system: its store path and, when it was one, its generation
// number at the time.
type Ref struct {
	Generation int    `json:"generation,omitempty"`
	StorePath  string `json:"store_path"`
}

// Mark is a system marked at a time.
type Mark struct {
	Generation int         `json:"generation,omitempty"`
	StorePath  string      `json:"store_path"`
	At         record.Time `json:"at"`
}

// Rejection is a system lmn rolled back from, and why.
type Rejection struct {
	Generation int         `json:"generation,omitempty"`
	StorePath  string      `json:"store_path"`
	At         record.Time `json:"at"`
	Reason     string      `json:"reason"`
}

// Rollback is one automatic switch.
type Rollback struct {
	At   record.Time `json:"at"`
	From Ref         `json:"from"`
	To   Ref         `json:"to"`
}

// MaxEntries bounds each list; the oldest entries go first. Store paths
// that old are collected long since.
const MaxEntries = 64

// maxRecordSize bounds the file read back.
const maxRecordSize = 1 << 20

// Load reads the record at path; a missing file is an empty record.
// Errors name the file and the field.
func Load(path string) (Record, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Record{}, nil
	}
	if err != nil {
		return Record{}, &config.Error{File: path, Err: err}
	}
	r, err := Parse(data)
	return r, config.In(path, err)
}

// Parse decodes a record strictly and checks every entry.
func Parse(data []byte) (Record, error) {
	if len(data) > maxRecordSize {
		return Record{}, fmt.Errorf("%d bytes, more than %d", len(data), maxRecordSize)
	}
	var r Record
	if err := config.Decode(data, &r); err != nil {
		return Record{}, err
	}
	return r, r.validate()
}

func (r Record) validate() error {
	if r.KnownGood != nil {
		if err := checkPath(r.KnownGood.StorePath, r.KnownGood.Generation); err != nil {
			return config.Field("known_good", err)
		}
	}
	for i, e := range r.Rejected {
		if err := checkPath(e.StorePath, e.Generation); err != nil {
			return config.Field(fmt.Sprintf("rejected[%d]", i), err)
		}
	}
	for i, e := range r.Rollbacks {
		for side, ref := range map[string]Ref{"from": e.From, "to": e.To} {
			if err := checkPath(ref.StorePath, ref.Generation); err != nil {
				return config.Field(fmt.Sprintf("rollbacks[%d].%s", i, side), err)
			}
		}
	}
	if len(r.Rejected) > MaxEntries || len(r.Rollbacks) > MaxEntries {
		return fmt.Errorf("more than %d entries in a list", MaxEntries)
	}
	return nil
}

func checkPath(p string, n int) error {
	if !filepath.IsAbs(p) || filepath.Clean(p) != p {
		return config.Errorf("store_path", "%q is not a clean absolute path", p)
	}
	if n < 0 {
		return config.Errorf("generation", "%d is negative", n)
	}
	return nil
}

// Rejection returns the rejection of storePath, if any.
func (r Record) Rejection(storePath string) (Rejection, bool) {
	i := slices.IndexFunc(r.Rejected, func(e Rejection) bool { return e.StorePath == storePath })
	if i < 0 {
		return Rejection{}, false
	}
	return r.Rejected[i], true
}

// Update changes the record at path under an exclusive flock of
// "path.lock", so that lmn-privd and a concurrent `lmn-privd exec` never
// lose each other's entries: it reads the file, calls f, and writes the
// result back atomically with mode 0644. Nothing is written when f fails.
func Update(path string, f func(*Record) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("generations record: %w", err)
	}
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("generations record: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("generations record %s: lock: %w", path, err)
	}
	r, err := Load(path)
	if err != nil {
		return err
	}
	if err := f(&r); err != nil {
		return err
	}
	r.trim()
	if r.Rejected == nil {
		r.Rejected = []Rejection{}
	}
	if r.Rollbacks == nil {
		r.Rollbacks = []Rollback{}
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("generations record %s: %w", path, err)
	}
	return statefile.WritePerm(path, append(data, '\n'), 0o644)
}

func (r *Record) trim() {
	if n := len(r.Rejected) - MaxEntries; n > 0 {
		r.Rejected = slices.Delete(r.Rejected, 0, n)
	}
	if n := len(r.Rollbacks) - MaxEntries; n > 0 {
		r.Rollbacks = slices.Delete(r.Rollbacks, 0, n)
	}
}
