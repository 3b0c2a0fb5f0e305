package notify

import (
	"github.com/lmn-heal/lmn/internal/record"
)

// An event is one kind of thing a person is told about. Every decision of
// what to tell, and how each channel marks it, is read from this one table.
type event struct {
	Name string
	// Title starts a message's title: "lmn gave up".
	Title string
	// Default events are sent unless the configuration's events list
	// says otherwise.
	Default bool
	// MessageID is the journald MESSAGE_ID (and the catalog entry of
	// lmn.catalog).
	MessageID string
	// Syslog is the journald PRIORITY (0 emerg … 7 debug).
	Syslog int
	// Ntfy is the ntfy priority (1 min … 5 max) and NtfyTags its tags
	// (an emoji short code first).
	Ntfy     int
	NtfyTags string
}

// Event names besides the heal phases and outcomes they are named after.
const (
	EventCollectorAbsent = "collector_absent"
	EventRecovered       = record.OutcomeRecovered
	EventDigest          = "digest"
)

// events is the list of what lmn-notify tells. A heal record is an event
// by its outcome on a verified record and by its phase otherwise, so an
// outcome or phase added to the stream (rolled_back) is one line here.
var events = []event{
	{Name: record.PhaseAdvised, Title: "needs a person", Default: true,
		MessageID: "d51aa83a71b4407b933439b74dad83d1", Syslog: 4, Ntfy: 4, NtfyTags: "wrench,advised"},
	{Name: record.PhaseGaveUp, Title: "lmn gave up", Default: true,
		MessageID: "75ba04f1b6d04031bd4cb8708283fe52", Syslog: 3, Ntfy: 4, NtfyTags: "warning,gave_up"},
	{Name: record.OutcomeWorse, Title: "worse after healing", Default: true,
		MessageID: "a34e7b1e95a4492ba4128bd08f68b244", Syslog: 2, Ntfy: 5, NtfyTags: "rotating_light,worse"},
	{Name: record.OutcomeNotRecovered, Title: "not recovered", Default: true,
		MessageID: "5cb9832b19cf40d6ab5379a847e48f80", Syslog: 4, Ntfy: 3, NtfyTags: "hourglass,not_recovered"},
	{Name: "rolled_back", Title: "rolled back", Default: true,
		MessageID: "7eff7c29992c4008bcfabacd1a7635bc", Syslog: 3, Ntfy: 4, NtfyTags: "leftwards_arrow_with_hook,rolled_back"},
	{Name: EventCollectorAbsent, Title: "collector silent", Default: true,
		MessageID: "abe76e5dfff94a9d8337d03d6e4d7f9e", Syslog: 3, Ntfy: 4, NtfyTags: "mute,collector_absent"},
	{Name: EventRecovered, Title: "recovered", Default: true,
		MessageID: "bc35aa1e0baa4cba8dccf476813ba459", Syslog: 5, Ntfy: 2, NtfyTags: "white_check_mark,recovered"},
	{Name: EventDigest, Title: "many issues", Default: true,
		MessageID: "a211e46570c44c1bbfd9016e4269a0bb", Syslog: 3, Ntfy: 4, NtfyTags: "warning,digest"},
	// Off unless asked for.
	{Name: record.PhaseFailed, Title: "action failed",
		MessageID: "195b88d6309945088b6eda71fac2ab9a", Syslog: 4, Ntfy: 3, NtfyTags: "x,failed"},
	{Name: record.PhaseHeld, Title: "healing paused",
		MessageID: "36bb34a2e0db45848dd74a0187d182c8", Syslog: 5, Ntfy: 2, NtfyTags: "pause_button,held"},
}

// lookup returns the event named name.
func lookup(name string) (event, bool) {
	for _, e := range events {
		if e.Name == name {
			return e, true
		}
	}
	return event{}, false
}

// eventNames lists every event, for errors and suggestions.
func eventNames() []string {
	names := make([]string, len(events))
	for i, e := range events {
		names[i] = e.Name
	}
	return names
}

// defaultEvents lists the events sent by default.
func defaultEvents() []string {
	var names []string
	for _, e := range events {
		if e.Default {
			names = append(names, e.Name)
		}
	}
	return names
}

// healEvent names the event a heal record is: its outcome on a verified
// record, else its phase.
func healEvent(h *record.Heal) string {
	if h.Phase == record.PhaseVerified && h.Outcome != "" {
		return h.Outcome
	}
	return h.Phase
}
