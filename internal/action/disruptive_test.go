package action

import (
	"slices"
	"testing"
)

// The disruptive actions are the ones a maintenance window holds
// (lmn-heal --alertmanager-url): each stops or slows what the machine
// serves while it runs. The list is docs/privd.md's.
func TestDisruptive(t *testing.T) {
	want := []string{"drop_caches", "kill_process", "restart_network", "restart_unit"}
	var got []string
	for _, s := range Specs() {
		if s.Disruptive {
			got = append(got, s.Name)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("disruptive actions %v; want %v", got, want)
	}
}
