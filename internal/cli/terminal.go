package cli

import (
	"os"

	"golang.org/x/sys/unix"
)

// EventLines says whether a stage writes its line per event (an issue, a
// heal step) on stderr by default: yes, so the journal or a redirected
// stderr has them, except on a terminal whose stdout is a pipe onward, a
// middle stage of `... | lmn-dash`, where the lines would be drawn over
// the dashboard that holds the screen.
func EventLines(stdout, stderr *os.File) bool {
	return !isTerminal(stderr) || isTerminal(stdout)
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
