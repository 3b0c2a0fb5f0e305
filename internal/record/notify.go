package record

// KindNotify is the kind of lmn-notify's records.
const KindNotify = "notify"

// Notify phases.
const (
	// NotifySent: a channel delivered a message.
	NotifySent = "sent"
	// NotifyFailed: a channel gave a message up after its retries.
	NotifyFailed = "failed"
	// NotifyDropped: messages were dropped from a full channel queue.
	NotifyDropped = "dropped"
)

// Notify is written by lmn-notify when a channel delivers a message, gives
// one up, or drops messages from its full queue.
type Notify struct {
	Header
	Channel string `json:"channel"`
	Phase   string `json:"phase"`
	// Event is what the message is about: a heal outcome (advised,
	// gave_up, worse, not_recovered, …), collector_absent, recovered, or
	// digest for a message that folds many.
	Event string `json:"event,omitempty"`
	// Issues are the ids of the issues the message tells about.
	Issues   []string `json:"issues,omitempty"`
	Attempts int      `json:"attempts,omitempty"`
	// LatencyMS is the time from the record that caused the message to
	// its delivery, retries included.
	LatencyMS *float64 `json:"latency_ms,omitempty"`
	Error     string   `json:"error,omitempty"`
	// Dropped counts messages dropped since the last dropped record of
	// this channel; DroppedTotal since the start.
	Dropped      int `json:"dropped,omitempty"`
	DroppedTotal int `json:"dropped_total,omitempty"`
}
