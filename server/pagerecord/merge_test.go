package pagerecord

import "testing"

func TestAppendMergedHeader(t *testing.T) {
	tests := []struct {
		name, stored, update, want string
	}{
		{"empty both", "", "", ""},
		{"empty update keeps stored", "A: 1\r\nB: 2\r\n", "", "A: 1\r\nB: 2\r\n"},
		{"empty stored takes update", "", "A: 1\r\n", "A: 1\r\n"},
		{"replace in place", "A: 1\r\nETag: \"x\"\r\nB: 2\r\n", "ETag: \"y\"\r\n", "A: 1\r\nETag: \"y\"\r\nB: 2\r\n"},
		{"case-insensitive replace keeps update's spelling", "Cache-Control: max-age=1\r\n", "cache-control: max-age=9\r\n", "cache-control: max-age=9\r\n"},
		{"all stored of a name go, all update of it come", "Link: <a>\r\nX: 1\r\nLink: <b>\r\n", "Link: <c>\r\nLink: <d>\r\n", "Link: <c>\r\nLink: <d>\r\nX: 1\r\n"},
		{"new field appended", "A: 1\r\n", "Expires: Thu, 01 Jan 2037 00:00:00 GMT\r\n", "A: 1\r\nExpires: Thu, 01 Jan 2037 00:00:00 GMT\r\n"},
		{"mixed replace and add in update order", "Date: d1\r\nA: 1\r\n", "Z: z\r\nDate: d2\r\nY: y\r\n", "Date: d2\r\nA: 1\r\nZ: z\r\nY: y\r\n"},
		{"Content-Length not updated", "Content-Type: text/html\r\n", "Content-Length: 0\r\n", "Content-Type: text/html\r\n"},
		{"Content-Encoding not updated", "A: 1\r\n", "Content-Encoding: br\r\n", "A: 1\r\n"},
		{"Transfer-Encoding not updated", "A: 1\r\n", "Transfer-Encoding: chunked\r\n", "A: 1\r\n"},
		{"hop-by-hop not updated", "A: 1\r\n", "Connection: close\r\nKeep-Alive: 5\r\nUpgrade: h2c\r\nTE: x\r\nTrailer: y\r\nProxy-Connection: z\r\n", "A: 1\r\n"},
		{"Set-Cookie and Age not updated", "A: 1\r\n", "Set-Cookie: s=1\r\nAge: 3\r\n", "A: 1\r\n"},
		{"Connection-listed fields not updated", "X-Hop: old\r\nA: 1\r\n", "Connection: x-hop, X-Other\r\nX-Hop: new\r\nX-Other: o\r\nB: 2\r\n", "X-Hop: old\r\nA: 1\r\nB: 2\r\n"},
		{"malformed update lines dropped", "A: 1\r\n", "B 2\r\nC: 3\nD: \x00\r\n: e\r\nF: 6\r\n", "A: 1\r\nF: 6\r\n"},
		{"malformed stored lines dropped", "A: 1\nB: 2\r\nC:\x7f\r\nContent-Length: 4\r\nD: 4", "", "B: 2\r\n"},
		{"unterminated last update line dropped", "A: 1\r\n", "B: 2\r\nC: 3", "A: 1\r\nB: 2\r\n"},
		{"update name matching only a malformed stored line is added", "ETag \"x\"\r\n", "ETag: \"y\"\r\n", "ETag: \"y\"\r\n"},
		{"empty value replaces", "Cache-Control: no-cache\r\n", "Cache-Control:\r\n", "Cache-Control:\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendMergedHeader([]byte("pre|"), []byte(tc.stored), []byte(tc.update))
			if string(got) != "pre|"+tc.want {
				t.Fatalf("got  %q\nwant %q", got[4:], tc.want)
			}
			if err := checkBlock(got[4:]); err != nil {
				t.Fatalf("merged block does not validate: %v", err)
			}
		})
	}
}

// TestAppendMergedHeaderDoesNotAlias checks that the result never shares
// memory with the inputs: callers merge into a fresh record.
func TestAppendMergedHeaderDoesNotAlias(t *testing.T) {
	stored := []byte("A: 1\r\nB: 2\r\n")
	update := []byte("B: 3\r\n")
	got := AppendMergedHeader(nil, stored, update)
	copy(stored, "XXXXXXXXXXXX")
	copy(update, "YYYYYY")
	if string(got) != "A: 1\r\nB: 3\r\n" {
		t.Fatalf("result changed with its inputs: %q", got)
	}
}
