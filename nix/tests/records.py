# Shared by the VM tests (prepended to each testScript): lmn's own records
# as the pipe logged them with recordLog.
import json

RECORDS = "/var/log/luminous-healing/records.ndjson"


def records(kind):
    """lmn's records of one kind from the record log (samples are skipped)."""
    out = machine.succeed(f"grep -h '\"kind\":\"{kind}\"' {RECORDS} || true")
    found = []
    for line in out.splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:
            pass  # the last line may still be being written
    return found


