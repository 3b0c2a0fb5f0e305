package heal

// Issues made from Alertmanager alerts carry the alert's labels. Ladders
// match them as they match the subject ("match": {"alertname":
// "NginxDown", "unit": "nginx.service"}), and steps may use them as
// {{key}}. Labels come from a payload: they add names, never replace the
// subject, the facts of the stream or the names lmn computes itself.

// reservedVars are the variables lmn computes; a label never sets them.
var reservedVars = map[string]bool{
	"rule": true, "issue": true, "systemctl": true, "journalctl": true,
	"top_memory_unit": true, "top_memory_scope": true, "holds_nix_store": true, "holds_var_log": true,
}

// addLabels adds labels to an issue's vars where the vars lack the name.
func addLabels(vars, labels map[string]string) {
	for k, v := range labels {
		if _, taken := vars[k]; taken || reservedVars[k] {
			continue
		}
		vars[k] = v
	}
}
