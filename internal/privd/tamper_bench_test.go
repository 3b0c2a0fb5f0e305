package privd

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkTamperDetection measures what verify-audit finds in a 10 000
// line log with its sealed head, 100 trials per kind of tampering by
// someone without the audit key (before the keyed chain and the head:
// middle edits 600/600, truncation 0 %, a deleted last line 0 %, an edited
// last line 41 %, appended forged lines 0 %). Reported per kind: trials
// detected.
func BenchmarkTamperDetection(b *testing.B) {
	const lines, trials = 10000, 100
	path := filepath.Join(b.TempDir(), "audit.log")
	key := testAuditKey(b, path)
	var log bytes.Buffer
	prev := genesisHash
	for i := range lines {
		e := &Entry{Seq: uint64(i + 1), Prev: prev, TS: stamp(time.Unix(int64(i), 0)), Event: EventIntent, ID: strconv.Itoa(i),
			Peer: &Peer{UID: 977, PID: 1000 + i, Via: "socket"}, Action: "restart_unit", Params: map[string]string{"unit": "u" + strconv.Itoa(i%50) + ".service"},
			Target: "unit:u" + strconv.Itoa(i%50) + ".service"}
		line := encodeEntry(e)
		log.Write(append(line, '\n'))
		prev = chainValue(key, line)
	}
	if err := writeHead(path, key, lines, prev); err != nil {
		b.Fatal(err)
	}
	head, err := readHead(path, key)
	if err != nil {
		b.Fatal(err)
	}
	good := log.Bytes()
	if _, err := Verify(bytes.NewReader(good), key, head); err != nil {
		b.Fatalf("the untampered log: %v", err)
	}
	all := strings.SplitAfter(string(good), "\n")[:lines]
	rng := rand.New(rand.NewPCG(1, 2))
	kinds := map[string]func() string{
		"middle-edit": func() string {
			out := append([]string{}, all...)
			i := 1 + rng.IntN(lines-2)
			out[i] = editByte(rng, out[i])
			return strings.Join(out, "")
		},
		"truncation":   func() string { return strings.Join(all[:lines-1-rng.IntN(lines-1)], "") },
		"last-deleted": func() string { return strings.Join(all[:lines-1], "") },
		"last-edited": func() string {
			out := append([]string{}, all...)
			out[lines-1] = editByte(rng, out[lines-1])
			return strings.Join(out, "")
		},
		"forged-appended": func() string {
			n := 1 + rng.IntN(10)
			return strings.Join(unkeyed(append(append([]string{}, all...), all[lines-n:]...), lines), "")
		},
	}
	for b.Loop() {
		for name, tamper := range kinds {
			found := 0
			for range trials {
				if _, err := Verify(strings.NewReader(tamper()), key, head); errors.Is(err, ErrChain) {
					found++
				}
			}
			b.ReportMetric(float64(found), name+"-found/100")
		}
	}
	os.Remove(path)
}

// editByte changes one byte of a line (not its newline) to another
// printable one.
func editByte(rng *rand.Rand, line string) string {
	b := []byte(line)
	i := rng.IntN(len(b) - 1)
	c := b[i]
	for c == b[i] {
		c = byte(' ' + rng.IntN(95))
	}
	b[i] = c
	return string(b)
}
