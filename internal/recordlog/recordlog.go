// Package recordlog is lmn's record log: a file of whole records that the
// writer itself keeps bounded in size, rotating it as logrotate would but
// with no file ever cut inside a line and no copy-then-truncate race.
// When appending a line would take the file past MaxBytes, FILE becomes
// FILE.1 (FILE.1 becomes FILE.2, and so on; the oldest beyond Keep is
// removed) and a new FILE is begun. The log never holds more than about
// (Keep+1) × MaxBytes.
package recordlog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// Log appends lines to a size-bounded, rotated file. It is not safe for
// concurrent use.
type Log struct {
	Path     string
	MaxBytes int64 // rotate before a line would take the file past this
	Keep     int   // rotated files kept (FILE.1 … FILE.Keep); 0 keeps none

	f    *os.File
	size int64
}

// Open opens (or creates, mode 0640) the log at path for appending.
func Open(path string, maxBytes int64, keep int) (*Log, error) {
	if maxBytes <= 0 || keep < 0 {
		return nil, fmt.Errorf("record log %s: max size %d and keep %d: want a positive size and keep ≥ 0", path, maxBytes, keep)
	}
	l := &Log{Path: path, MaxBytes: maxBytes, Keep: keep}
	return l, l.open()
}

func (l *Log) open() error {
	f, err := os.OpenFile(l.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("record log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("record log: %w", err)
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// Append writes line (with its newline) to the log in one write,
// rotating first when it would take the file past MaxBytes. A line longer
// than MaxBytes gets a file of its own.
func (l *Log) Append(line []byte) error {
	if l.size > 0 && l.size+int64(len(line)) > l.MaxBytes {
		if err := l.rotate(); err != nil {
			return err
		}
	}
	n, err := l.f.Write(line)
	l.size += int64(n)
	if err != nil {
		return fmt.Errorf("record log: %w", err)
	}
	return nil
}

// rotate shifts FILE.k to FILE.k+1 (dropping the one past Keep), FILE to
// FILE.1, and begins a new FILE.
func (l *Log) rotate() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("record log: %w", err)
	}
	if err := os.Remove(l.name(l.Keep + 1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("record log: %w", err)
	}
	for k := l.Keep; k >= 1; k-- {
		if err := os.Rename(l.name(k-1), l.name(k)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("record log: %w", err)
		}
	}
	if l.Keep == 0 {
		if err := os.Remove(l.Path); err != nil {
			return fmt.Errorf("record log: %w", err)
		}
	}
	return l.open()
}

// name is FILE for k 0, FILE.k otherwise.
func (l *Log) name(k int) string {
	if k == 0 {
		return l.Path
	}
	return l.Path + "." + strconv.Itoa(k)
}

// Close closes the file.
func (l *Log) Close() error { return l.f.Close() }

// ParseSize reads a size: a number of bytes, or with the suffix K, M or G
// (KiB, MiB, GiB, as systemd writes them: "64M").
func ParseSize(s string) (int64, error) {
	mult := int64(1)
	num := s
	switch {
	case strings.HasSuffix(s, "K"):
		mult, num = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, num = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, num = 1<<30, strings.TrimSuffix(s, "G")
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: want a positive number of bytes, or with K, M or G (64M)", s)
	}
	return n * mult, nil
}
