package frame

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// bytesIEC writes a byte count compactly: 512B, 1.5K, 6.7G.
func bytesIEC(b float64) string {
	const units = "BKMGTPE"
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	if i == 0 {
		return strconv.FormatFloat(b, 'f', 0, 64) + "B"
	}
	if b >= 100 {
		return strconv.FormatFloat(b, 'f', 0, 64) + units[i:i+1]
	}
	return strconv.FormatFloat(b, 'f', 1, 64) + units[i:i+1]
}

// pct writes a ratio as a percentage.
func pct(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "?%"
	}
	p := r * 100
	if p != 0 && math.Abs(p) < 10 {
		return strconv.FormatFloat(p, 'f', 1, 64) + "%"
	}
	return strconv.FormatFloat(p, 'f', 0, 64) + "%"
}

// age writes a duration coarsely: 4s, 3m05s, 2h10m, 3d04h.
func age(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
}

func num(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
