package upstream

import (
	"bufio"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// readResponse parses raw the way the pool does.
func readResponse(t testing.TB, raw string) *fasthttp.Response {
	t.Helper()
	resp := &fasthttp.Response{}
	clearResponse(resp)
	if err := resp.ReadLimitBody(bufio.NewReader(strings.NewReader(raw)), 1<<20); err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return resp
}

func TestVisitResponse(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want []field
	}{
		{
			name: "no fields",
			raw:  "HTTP/1.1 204 No Content\r\n\r\n",
			want: nil,
		},
		{
			name: "Connection lists fields in several Connection lines",
			raw: "HTTP/1.1 200 OK\r\nX-A: 1\r\nConnection: x-a\r\nconnection: X-B, keep-alive\r\nX-B: 2\r\n" +
				"X-C: 3\r\nContent-Length: 0\r\n\r\n",
			want: []field{{"X-C", "3"}},
		},
		{
			name: "chunked: framing and trailer fields are not visited",
			raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\nX-Before: b\r\n\r\n" +
				"3\r\nabc\r\n0\r\nX-T: t\r\n\r\n",
			want: []field{{"X-Before", "b"}},
		},
		{
			name: "HTTP/1.0 keep-alive response",
			raw:  "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nKeep-Alive: timeout=5\r\nX-Z: z\r\nContent-Length: 1\r\n\r\nx",
			want: []field{{"X-Z", "z"}},
		},
		{
			name: "every hop-by-hop field, in odd case",
			raw: "HTTP/1.1 200 OK\r\nCONNECTION: X-Y\r\nkeep-alive: 1\r\nPROXY-connection: 1\r\nte: 1\r\n" +
				"UPGRADE: 1\r\nx-y: 1\r\nX-Kept: k\r\ncontent-LENGTH: 0\r\n\r\n",
			want: []field{{"X-Kept", "k"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := visit(readResponse(t, tt.raw))
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("field %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

var benchResponse = "HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Type: text/html; charset=utf-8\r\n" +
	"Cache-Control: public, max-age=300\r\nETag: \"0123456789\"\r\nLast-Modified: Mon, 01 Jan 2024 00:00:00 GMT\r\n" +
	"Set-Cookie: a=1; Path=/\r\nSet-Cookie: b=2; Path=/\r\nVary: Accept-Encoding\r\nConnection: keep-alive, X-Hop\r\n" +
	"X-Hop: 1\r\nServer: origin\r\nContent-Length: 5\r\n\r\nhello"

func TestVisitResponseAllocs(t *testing.T) {
	resp := readResponse(t, benchResponse)
	n := 0
	fn := func(name, value []byte) { n++ }
	if a := testing.AllocsPerRun(100, func() { visitResponse(resp, fn) }); a != 0 {
		t.Fatalf("VisitResponse allocates %v times per call", a)
	}
	if n == 0 {
		t.Fatal("no field visited")
	}
}

func BenchmarkVisitResponse(b *testing.B) {
	resp := readResponse(b, benchResponse)
	fn := func(name, value []byte) {}
	b.ReportAllocs()
	for b.Loop() {
		visitResponse(resp, fn)
	}
}
