package admin_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// samples is one scrape: every sample of the text exposition by its series,
// "name{a="x",b="y"}" with the labels sorted.
type samples map[string]float64

// get returns the value of series name with labels ("k", "v", ...); a
// series the scrape did not have is 0 (counters appear once non-zero).
func (s samples) get(name string, labels ...string) float64 { return s[seriesKey(name, labels...)] }

func seriesKey(name string, labels ...string) string {
	if len(labels) == 0 {
		return name
	}
	var pairs []string
	for i := 0; i+1 < len(labels); i += 2 {
		pairs = append(pairs, labels[i]+"="+strconv.Quote(labels[i+1]))
	}
	sort.Strings(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

// parseExposition parses the Prometheus text format (0.0.4) strictly enough
// for these tests: comments and blank lines are skipped; every other line
// must be `name[{label="value",...}] value` without a timestamp, and no
// series may appear twice.
func parseExposition(r io.Reader) (samples, error) {
	out := samples{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, labels, rest, err := splitSeries(line)
		if err != nil {
			return nil, fmt.Errorf("line %d %q: %v", n, line, err)
		}
		fields := strings.Fields(rest)
		if len(fields) != 1 {
			return nil, fmt.Errorf("line %d %q: want one value", n, line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d %q: %v", n, line, err)
		}
		key := seriesKey(name, labels...)
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("line %d: series %s twice", n, key)
		}
		out[key] = v
	}
	return out, sc.Err()
}

// splitSeries splits `name{a="x",b="y"} rest` into its name, its labels as
// pairs and what follows.
func splitSeries(line string) (name string, labels []string, rest string, err error) {
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return "", nil, "", fmt.Errorf("no metric name")
	}
	name = line[:i]
	for k, r := range name {
		if !(r == '_' || r == ':' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || k > 0 && r >= '0' && r <= '9') {
			return "", nil, "", fmt.Errorf("bad metric name %q", name)
		}
	}
	if line[i] == ' ' {
		return name, nil, line[i:], nil
	}
	s := line[i+1:]
	for {
		if strings.HasPrefix(s, "}") {
			return name, labels, s[1:], nil
		}
		eq := strings.Index(s, `="`)
		if eq <= 0 {
			return "", nil, "", fmt.Errorf("bad label in %q", s)
		}
		key := s[:eq]
		s = s[eq+2:]
		var val strings.Builder
		j := 0
		for ; j < len(s) && s[j] != '"'; j++ {
			if s[j] == '\\' && j+1 < len(s) {
				j++
				switch s[j] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(s[j])
				}
				continue
			}
			val.WriteByte(s[j])
		}
		if j == len(s) {
			return "", nil, "", fmt.Errorf("unterminated label value")
		}
		labels = append(labels, key, val.String())
		s = strings.TrimPrefix(s[j+1:], ",")
	}
}

// scrape fetches and parses /metrics from the admin server at addr.
func scrape(t *testing.T, addr string) samples {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("/metrics: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s, err := parseExposition(resp.Body)
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	return s
}

func TestParseExposition(t *testing.T) {
	s, err := parseExposition(strings.NewReader("# HELP x\n# TYPE x counter\nx 3\ny{b=\"2\",a=\"q\\\"uote\"} 1.5\n\nz_bucket{le=\"+Inf\"} 7\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.get("x") != 3 || s.get("y", "a", `q"uote`, "b", "2") != 1.5 || s.get("z_bucket", "le", "+Inf") != 7 || len(s) != 3 {
		t.Fatalf("%v", s)
	}
	for _, bad := range []string{"x\n", "x 1 2 3\n", "x{a=\"1} 2\n", "x 1\nx 2\n", "9x 1\n"} {
		if _, err := parseExposition(strings.NewReader(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
