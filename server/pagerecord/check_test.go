package pagerecord

import "testing"

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		rec  Record
		want error
	}{
		{"typical", Record{Status: 200, Encoding: Gzip, Header: []byte(sampleHeader), Body: []byte("b")}, nil},
		{"empty header and body", Record{Status: 204}, nil},
		{"status 100", Record{Status: 100}, nil},
		{"status 999", Record{Status: 999}, nil},
		{"reserved flag bits", Record{Status: 200, Flags: 0xfd}, nil},
		{"index with selector", Record{Status: 200, Flags: FlagVaryIndex, Selector: []byte("I")}, nil},
		{"index without selector", Record{Status: 200, Flags: FlagVaryIndex}, ErrSelector},
		{"odd but valid lines", Record{Status: 301,
			Header: []byte("Location:/x\r\nX-Empty:\r\nX-Tab:\ta\tb\t\r\nX-Obs: caf\xc3\xa9 \xff\r\n")}, nil},
		{"status 0", Record{Status: 0}, ErrStatus},
		{"status 99", Record{Status: 99}, ErrStatus},
		{"status 1000", Record{Status: 1000}, ErrStatus},
		{"status negative", Record{Status: -200}, ErrStatus},
		{"encoding 5", Record{Status: 200, Encoding: 5}, ErrEncoding},
		{"orig encoding 255", Record{Status: 200, OrigEncoding: 255}, ErrEncoding},
		{"control byte in value", Record{Status: 200, Header: []byte("A: \x01\r\n")}, ErrHeader},
		{"DEL in value", Record{Status: 200, Header: []byte("ETag: \"a\x7f\"\r\n")}, ErrHeader},
		{"bare LF", Record{Status: 200, Header: []byte("A: b\n")}, ErrHeader},
		{"missing final CRLF", Record{Status: 200, Header: []byte("A: b\r\nB: c")}, ErrHeader},
		{"space before colon", Record{Status: 200, Header: []byte("A : b\r\n")}, ErrHeader},
		{"Set-Cookie", Record{Status: 200, Header: []byte("Set-Cookie: sid=1\r\n")}, ErrForbiddenField},
		{"Content-Length", Record{Status: 200, Header: []byte("A: b\r\nContent-Length: 5\r\n")}, ErrForbiddenField},
		{"status before header", Record{Status: 42, Header: []byte("Age: 5\r\n")}, ErrStatus},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.rec.Check(); err != tc.want {
				t.Fatalf("Check: %v, want %v", err, tc.want)
			}
			// Check answers what decoding the encoded record would.
			var dec Record
			if err := Decode(AppendRecord(nil, &tc.rec), &dec); err != tc.want {
				t.Fatalf("Decode(AppendRecord): %v, Check said %v", err, tc.want)
			}
		})
	}
}
