package listen

import "testing"

func TestAddr(t *testing.T) {
	for in, want := range map[string]string{
		"9464": "127.0.0.1:9464", ":9464": "127.0.0.1:9464", "0.0.0.0:9464": "0.0.0.0:9464",
		"[::1]:9464": "[::1]:9464", "localhost:0": "localhost:0", "": "", "x:y:z": "", ":0": "", "99999": "",
	} {
		got, err := Addr(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("Addr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
