package record

import "encoding/json"

// Pipe is the order of lmn's stages, as a person types it.
const Pipe = "lmn-collect | lmn-detect | lmn-heal | lmn-notify | lmn-dash"

// Upstream watches what one stage reads for signs that the pipe is built
// in the wrong order (lmn-collect | lmn-heal | lmn-detect): samples
// reaching lmn-heal with no lmn-detect before it, heal or issue records
// reaching lmn-detect. Check says each sign once.
type Upstream struct {
	Stage string // the reading stage: "lmn-detect" or "lmn-heal"

	detect bool            // an lmn-detect start record was read
	said   map[string]bool // the signs already said
}

// Check returns a warning to say when l makes no sense at the stage's
// place, once per kind of sign; "" otherwise.
func (u *Upstream) Check(l Line) string {
	var sign, msg string
	var src string
	if l.Kind == KindStart {
		var h Header
		if json.Unmarshal(l.Body(), &h) == nil {
			src = h.Src
		}
	}
	switch {
	case src == "lmn-detect" && u.Stage == "lmn-heal":
		u.detect = true
	case (src == "lmn-heal" || src == "lmn-notify") && u.Stage == "lmn-detect":
		sign, msg = "heal", src+"'s records come in: "+src+" is before lmn-detect (or this replays a stream it wrote), so it never sees lmn-detect's issues"
	case l.Kind == KindSample && u.Stage == "lmn-heal" && !u.detect:
		sign, msg = "sample", "samples come in, but no lmn-detect start record came before them: lmn-detect is missing or after lmn-heal, so no issue comes and nothing is healed"
	case l.Kind == KindHeal && u.Stage == "lmn-detect":
		sign, msg = "heal", "heal records come in: lmn-heal is before lmn-detect (or this replays a stream it wrote), so it never sees lmn-detect's issues"
	case l.Kind == KindIssue && u.Stage == "lmn-detect":
		sign, msg = "issue", "issue records come in (another lmn-detect, or a replay of its output): they are passed on, and only samples are judged"
	}
	if sign == "" || u.said[sign] {
		return ""
	}
	if u.said == nil {
		u.said = map[string]bool{}
	}
	u.said[sign] = true
	return msg + "; the order is " + Pipe
}
