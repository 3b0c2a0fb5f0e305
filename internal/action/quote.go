package action

// Quote returns s as one word of a POSIX shell, quoted only where it must
// be: what advice uses for every value it puts into a command.
func Quote(s string) string { return shellQuote(s) }
