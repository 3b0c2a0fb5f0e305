package cli

import "runtime/debug"

// readBuildInfo is debug.ReadBuildInfo; tests give other build infos.
var readBuildInfo = debug.ReadBuildInfo

// Version is the version a binary reports (--version, its start record):
// ldflags, the one set at build time with -ldflags "-X main.version=…",
// when there is one; otherwise what the go command recorded in the binary.
// That is the main module's version when it has one (go install
// …@v1.2.3, or go build's own pseudo-version from the checkout,
// v0.0.0-20261207230637-3f5a9a7d4d67+dirty), else "dev-" and the first 12
// digits of vcs.revision, "-dirty" when vcs.modified says the checkout had
// changes, else "dev". The result is one word.
func Version(ldflags string) string {
	if ldflags != "" && ldflags != "dev" {
		return ldflags
	}
	bi, ok := readBuildInfo()
	if !ok {
		return "dev"
	}
	return fromBuildInfo(bi)
}

func fromBuildInfo(bi *debug.BuildInfo) string {
	var rev string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	v := "dev-" + rev
	if modified {
		v += "-dirty"
	}
	return v
}
