package proc

import (
	"bytes"
	"fmt"
)

// Mount is one line of /proc/PID/mountinfo.
type Mount struct {
	MountPoint string // unescaped
	FSType     string // with any subtype: "fuse.sshfs"
	Source     string
	ReadOnly   bool // per-mount or superblock "ro"
}

// parseMountinfo appends the mounts of b to dst. A malformed line is
// skipped; the error names the first one, and the good lines are returned.
func parseMountinfo(b []byte, dst []Mount, in *interner) ([]Mount, error) {
	var f [16][]byte
	var bad error
lines:
	for i, n := 0, 1; i < len(b); n++ {
		var line []byte
		line, i = nextLine(b, i)
		if len(line) == 0 {
			continue
		}
		k := fields(line, f[:])
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		sep := -1
		for j := 6; j < k; j++ {
			if len(f[j]) == 1 && f[j][0] == '-' {
				sep = j
				break
			}
		}
		if sep < 0 || sep+2 >= k {
			bad = first(bad, fmt.Errorf("line %d: want \"- fstype source options\" after the optional fields: %q", n, clip(line)))
			continue lines
		}
		mp := f[4]
		if len(mp) == 0 || mp[0] != '/' {
			bad = first(bad, fmt.Errorf("line %d: mount point %q is not absolute", n, clip(mp)))
			continue lines
		}
		ro := hasOption(f[5], "ro")
		if sep+3 < k {
			ro = ro || hasOption(f[sep+3], "ro")
		}
		dst = append(dst, Mount{
			MountPoint: in.getUnescaped(mp),
			FSType:     in.get(f[sep+1]),
			Source:     in.getUnescaped(f[sep+2]),
			ReadOnly:   ro,
		})
	}
	return dst, bad
}

func hasOption(opts []byte, opt string) bool {
	for len(opts) > 0 {
		var o []byte
		o, opts, _ = cutByte(opts, ',')
		if string(o) == opt {
			return true
		}
	}
	return false
}

// getUnescaped returns b with mountinfo's octal escapes (\040 for a space,
// \011, \012, \134) decoded.
func (in *interner) getUnescaped(b []byte) string {
	if bytes.IndexByte(b, '\\') < 0 {
		return in.get(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+3 < len(b) && isOctal(b[i+1]) && isOctal(b[i+2]) && isOctal(b[i+3]) {
			out = append(out, (b[i+1]-'0')<<6|(b[i+2]-'0')<<3|(b[i+3]-'0'))
			i += 3
			continue
		}
		out = append(out, b[i])
	}
	return in.get(out)
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
