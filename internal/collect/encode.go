package collect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/lmn-heal/lmn/internal/record"
)

// AppendSample appends s as one JSON line, byte for byte what encoding/json
// (with HTML escaping off, as record.Writer encodes) writes for it, without
// reflection: encoding was a fifth of a sample's CPU. encode_test.go checks
// the equality with every field of record.Sample set, so a field added there
// and not here fails the tests.
func AppendSample(b []byte, s *record.Sample) ([]byte, error) {
	e := encoder{b: b}
	e.b = append(e.b, `{"kind":`...)
	e.str(s.Kind)
	e.b = append(e.b, `,"v":`...)
	e.b = strconv.AppendInt(e.b, int64(s.V), 10)
	e.b = append(e.b, `,"ts":"`...)
	e.b = s.TS.UTC().AppendFormat(e.b, record.TimeLayout)
	e.b = append(e.b, `","host":`...)
	e.str(s.Host)
	e.b = append(e.b, `,"src":`...)
	e.str(s.Src)
	e.b = append(e.b, `,"seq":`...)
	e.b = strconv.AppendUint(e.b, s.Seq, 10)
	e.num(`,"interval_seconds":`, s.IntervalSeconds)
	if s.Trigger != "" {
		e.b = append(e.b, `,"trigger":`...)
		e.str(s.Trigger)
	}
	e.basics(s)
	if g := s.PSI; g != nil {
		e.psi(g)
	}
	if g := s.Disks; g != nil {
		e.disks(g)
	}
	if g := s.Net; g != nil {
		e.net(g)
	}
	if g := s.Units; g != nil {
		e.units(g)
	}
	if g := s.Temps; g != nil {
		e.temps(g)
	}
	if g := s.Nix; g != nil {
		e.nix(g)
	}
	e.b = append(e.b, "}\n"...)
	return e.b, e.err
}

// basics writes the cpu, mem, swap and load groups.
func (e *encoder) basics(s *record.Sample) {
	if g := s.CPU; g != nil {
		e.b = append(e.b, `,"cpu":{"count":`...)
		e.b = strconv.AppendInt(e.b, int64(g.Count), 10)
		e.num(`,"busy_ratio":`, g.BusyRatio)
		e.num(`,"user_ratio":`, g.UserRatio)
		e.num(`,"system_ratio":`, g.SystemRatio)
		e.num(`,"iowait_ratio":`, g.IOWaitRatio)
		e.num(`,"steal_ratio":`, g.StealRatio)
		e.b = append(e.b, '}')
	}
	if g := s.Mem; g != nil {
		e.uint(`,"mem":{"total_bytes":`, g.TotalBytes)
		e.uint(`,"available_bytes":`, g.AvailableBytes)
		e.uint(`,"free_bytes":`, g.FreeBytes)
		e.uint(`,"cached_bytes":`, g.CachedBytes)
		e.num(`,"available_ratio":`, g.AvailableRatio)
		if len(g.TopUnits) > 0 {
			e.topUnits(g.TopUnits)
		}
		e.b = append(e.b, '}')
	}
	if g := s.Swap; g != nil {
		e.uint(`,"swap":{"total_bytes":`, g.TotalBytes)
		e.uint(`,"free_bytes":`, g.FreeBytes)
		e.num(`,"used_ratio":`, g.UsedRatio)
		e.num(`,"in_pages_per_s":`, g.InPerS)
		e.num(`,"out_pages_per_s":`, g.OutPerS)
		e.b = append(e.b, '}')
	}
	if g := s.Load; g != nil {
		e.num(`,"load":{"load1":`, g.Load1)
		e.num(`,"load5":`, g.Load5)
		e.num(`,"load15":`, g.Load15)
		e.num(`,"load1_per_cpu":`, g.Load1Per)
		e.b = append(e.b, `,"runnable":`...)
		e.b = strconv.AppendInt(e.b, int64(g.Runnable), 10)
		e.b = append(e.b, `,"processes":`...)
		e.b = strconv.AppendInt(e.b, int64(g.Processes), 10)
		e.b = append(e.b, '}')
	}
}

func (e *encoder) nix(g *record.Nix) {
	e.b = append(e.b, `,"nix":{`...)
	if g.SystemGeneration != 0 {
		e.b = append(e.b, `"system_generation":`...)
		e.b = strconv.AppendInt(e.b, int64(g.SystemGeneration), 10)
		e.b = append(e.b, ',')
	}
	e.b = append(e.b, `"generations":`...)
	e.b = strconv.AppendInt(e.b, int64(g.Generations), 10)
	e.b = append(e.b, '}')
}

type encoder struct {
	b   []byte
	err error
}

func (e *encoder) uint(key string, v uint64) {
	e.b = append(e.b, key...)
	e.b = strconv.AppendUint(e.b, v, 10)
}

// num writes key and f as encoding/json does: shortest 'f' form, or 'e'
// form below 1e-6 and from 1e21 on, with "e-07" shortened to "e-7".
func (e *encoder) num(key string, f float64) {
	e.b = append(e.b, key...)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		if e.err == nil {
			e.err = fmt.Errorf("encode sample: %s is %v, which JSON cannot hold", key[2:len(key)-2], f)
		}
		e.b = append(e.b, '0')
		return
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	e.b = strconv.AppendFloat(e.b, f, format, -1, 64)
	if format == 'e' {
		n := len(e.b)
		if n >= 4 && e.b[n-4] == 'e' && e.b[n-3] == '-' && e.b[n-2] == '0' {
			e.b[n-2] = e.b[n-1]
			e.b = e.b[:n-1]
		}
	}
}

// str writes s as a JSON string. Plain printable ASCII, which is nearly
// everything a sample holds, is copied; anything else goes through
// encoding/json so the escaping stays identical.
func (e *encoder) str(s string) {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		e.b = append(e.b, '"')
		e.b = append(e.b, s...)
		e.b = append(e.b, '"')
		return
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	e.b = append(e.b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

func (e *encoder) psi(g *record.PSI) {
	e.b = append(e.b, `,"psi":{`...)
	first := true
	for _, r := range []struct {
		key string
		p   *record.Pressure
	}{{`"cpu":{`, g.CPU}, {`"memory":{`, g.Memory}, {`"io":{`, g.IO}} {
		if r.p == nil {
			continue
		}
		if !first {
			e.b = append(e.b, ',')
		}
		first = false
		e.b = append(e.b, r.key...)
		if r.p.Some != nil {
			e.pressureLine(`"some":`, r.p.Some)
		}
		if r.p.Full != nil {
			if r.p.Some != nil {
				e.b = append(e.b, ',')
			}
			e.pressureLine(`"full":`, r.p.Full)
		}
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, '}')
}

func (e *encoder) pressureLine(key string, l *record.PressureLine) {
	e.b = append(e.b, key...)
	e.num(`{"avg10_ratio":`, l.Avg10Ratio)
	e.num(`,"avg60_ratio":`, l.Avg60Ratio)
	e.num(`,"avg300_ratio":`, l.Avg300Ratio)
	e.num(`,"total_seconds":`, l.TotalSeconds)
	e.b = append(e.b, '}')
}
