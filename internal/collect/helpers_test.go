package collect

import (
	"testing"

	"github.com/lmn-heal/lmn/internal/collect/collecttest"
	"github.com/lmn-heal/lmn/internal/proc"
)

func procMount(point, fstype string) proc.Mount {
	return proc.Mount{MountPoint: point, FSType: fstype, Source: "x"}
}

func collecttestRoot(t *testing.T) string { return collecttest.Root(t) }
