package cachepolicy

import "testing"

// TestCDNCacheControlSyntax checks which CDN-Cache-Control lines parse as
// RFC 8941 Dictionaries, and how many members they have.
func TestCDNCacheControlSyntax(t *testing.T) {
	cases := []struct {
		line    string
		ok      bool
		members int
	}{
		{"", true, 0},
		{"   ", true, 0},
		{"max-age=60", true, 1},
		{"  max-age=60", true, 1},
		{"max-age=60, private", true, 2},
		{"max-age=60,private", true, 2},
		{"max-age=60 ,\tprivate", true, 2},
		{"a=1, b=-2, c=1.5, d=-0.125, e=\"s\\\"t\", f=tok/en:x, g=:aGk=:, h=?0, i=?1, *j", true, 10},
		{"a=(1 2 \"x\");p=1, b=()", true, 2},
		{"a=( 1  2 )", true, 1},
		{"a;p;q=2;r=\"x\", b=1;p=?1", true, 2},
		{"a=*tok", true, 1},
		{"a=123456789012345", true, 1},
		{"a=123456789012.123", true, 1},
		// failures
		{"Max-Age=60", false, 0},
		{"max-age=60,", false, 0},
		{",max-age=60", false, 0},
		{"max-age=60,,private", false, 0},
		{"\tmax-age=60", false, 0},
		{"max-age=", false, 0},
		{"max-age=1234567890123456", false, 0},
		{"max-age=1234567890123.1", false, 0},
		{"max-age=1.1234", false, 0},
		{"max-age=1.", false, 0},
		{"max-age=-", false, 0},
		{`a="unterminated`, false, 0},
		{`a="bad \n escape"`, false, 0},
		{"a=\"caf\xc3\xa9\"", false, 0},
		{"a=:not base64!:", false, 0},
		{"a=:unterminated", false, 0},
		{"a=?2", false, 0},
		{"a=(1 2", false, 0},
		{"a=(1,2)", false, 0},
		{"a b", false, 0},
		{"a=1 b=2", false, 0},
		{"a;", false, 0},
		{"a;P=1", false, 0},
		{"a=1;p=", false, 0},
		{"_a", false, 0},
		{"a=%x", false, 0},
	}
	for _, tc := range cases {
		d, ok := parseCDNCacheControl([][]byte{[]byte(tc.line)})
		if ok != tc.ok || d.count != tc.members {
			t.Errorf("%q: ok=%v members=%d, want ok=%v members=%d", tc.line, ok, d.count, tc.ok, tc.members)
		}
	}
}
