package pagerecord

import "testing"

func TestIsValidator(t *testing.T) {
	cases := []struct {
		name string
		want bool
	}{
		{"ETag", true},
		{"etag", true},
		{"ETAG", true},
		{"Last-Modified", true},
		{"last-modified", true},
		{"LAST-MODIFIED", true},
		{"", false},
		{"ETag ", false},
		{"ETags", false},
		{"X-ETag", false},
		{"Last-Modified-Since", false},
		{"Last_Modified", false},
		{"If-None-Match", false},
		{"Date", false},
		{"Expires", false},
	}
	for _, c := range cases {
		if got := IsValidator([]byte(c.name)); got != c.want {
			t.Errorf("IsValidator(%q) = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestRevalidatable(t *testing.T) {
	cases := []struct {
		name   string
		header string
		want   bool
	}{
		{"no header", "", false},
		{"no validator", "Content-Type: text/html\r\nCache-Control: max-age=60\r\n", false},
		{"ETag", "ETag: \"a\"\r\n", true},
		{"Last-Modified", "Last-Modified: Tue, 15 Nov 1994 12:45:26 GMT\r\n", true},
		{"both, after others", sampleHeader, true},
		{"lower case, no space", "content-type: x\r\netag:\"a\"\r\n", true},
		{"empty ETag value", "ETag:\r\n", true},
		{"weak ETag", "ETag: W/\"a\"\r\n", true},
		{"last line without CRLF (hand-built)", "A: b\r\nLast-Modified: x", true},
		{"LF only (hand-built)", "A: b\netag: x\n", true},
		{"name is a prefix", "ETagged: x\r\nLast-Modified-By: y\r\n", false},
		{"in a value", "X-Note: ETag: \"a\"\r\n", false},
		{"space before colon (hand-built)", "ETag : \"a\"\r\n", false},
		{"no colon", "ETag \"a\"\r\n", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Record{Status: 200, Header: []byte(c.header)}
			if got := r.Revalidatable(); got != c.want {
				t.Fatalf("Revalidatable() = %v, want %v", got, c.want)
			}
			// The rule the store lookup used before it moved here.
			if lookup := r.Lookup("ETag") != nil || r.Lookup("Last-Modified") != nil; lookup != c.want {
				t.Fatalf("Lookup says %v, want %v", lookup, c.want)
			}
		})
	}
}

func TestCheckRevalidatableAllocs(t *testing.T) {
	r := Record{Status: 200, Header: []byte(sampleHeader)}
	if a := testing.AllocsPerRun(100, func() { _ = r.Check(); _ = r.Revalidatable() }); a != 0 {
		t.Fatalf("%v allocations", a)
	}
}
