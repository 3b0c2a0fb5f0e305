// Package cli is the command line every lmn binary shares: the standard
// flag package, with -h and --version handled one way, and every usage
// error said on stderr ("lmn-detect: unexpected argument \"x\": ...")
// before the binary exits with status 2. A binary's flags are one line
// each:
//
//	fs := cli.New("lmn-detect", version, "[flags] < samples.ndjson > with-issues.ndjson", stdout, stderr)
//	fs.StringVar(&cfg.rulesFile, "rules", "", "rules `file` (JSON)")
//	if err := fs.Parse(args); err != nil {
//		return cfg, err // main exits with cli.Code(err)
//	}
//	if cfg.count < 0 {
//		return cfg, fs.Usagef("--count %d: must be 0 or more", cfg.count)
//	}
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// Flags is the command line of one binary.
type Flags struct {
	*flag.FlagSet
	// TakesArgs lets arguments follow the flags; without it Parse refuses
	// any, saying NoArgs.
	TakesArgs bool
	// NoArgs says why the binary takes no arguments, such as "the stream
	// comes on stdin".
	NoArgs string

	name, version, synopsis string
	stdout, stderr          io.Writer
	showVersion             bool
}

// New returns the flag set of binary name at version, whose usage line is
// "usage: name synopsis". It has --version, which prints Version(version).
func New(name, version, synopsis string, stdout, stderr io.Writer) *Flags {
	f := &Flags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), name: name, version: Version(version),
		synopsis: synopsis, stdout: stdout, stderr: stderr, NoArgs: name + " takes flags only"}
	f.SetOutput(stderr)
	f.BoolVar(&f.showVersion, "version", false, "print the version and exit")
	f.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s %s\n", name, synopsis)
		f.PrintDefaults()
	}
	return f
}

// Exit is an error that ends the binary at once with its status: 0 after
// -h or --version, 2 after a usage error, which was said on stderr.
type Exit int

func (e Exit) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// Code returns the exit status an error of Parse or Usagef asks for, and
// 2 for any other error.
func Code(err error) int {
	var e Exit
	if errors.As(err, &e) {
		return int(e)
	}
	return 2
}

// Parse parses args. A nil error means go on. Otherwise the binary ends
// with Code(err): after -h (the usage printed) or --version (the version
// printed to stdout) with 0, after a bad flag or an argument it does not
// take with 2, the mistake said on stderr.
func (f *Flags) Parse(args []string) error {
	if err := f.FlagSet.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Exit(0)
		}
		return Exit(2) // the flag package said what was wrong, and the usage
	}
	if f.showVersion {
		fmt.Fprintln(f.stdout, f.version)
		return Exit(0)
	}
	if !f.TakesArgs && f.NArg() > 0 {
		return f.Usagef("unexpected argument %q: %s", f.Arg(0), f.NoArgs)
	}
	return nil
}

// Usagef says on stderr what is wrong with the command line, with the
// usage line, and returns the error that exits with status 2.
func (f *Flags) Usagef(format string, a ...any) error {
	fmt.Fprintf(f.stderr, "%s: %s\nusage: %s %s (%[1]s -h lists the flags)\n", f.name, fmt.Sprintf(format, a...), f.name, f.synopsis)
	return Exit(2)
}
