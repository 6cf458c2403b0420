package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcpage/mcpage/internal/mctest"
)

// scrapeSeries fetches url (a /metrics) and returns each sample line's
// value by its series text as written ("name{labels}").
func scrapeSeries(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d", url, resp.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i <= 0 || err != nil {
			t.Fatalf("%s: bad line %q", url, line)
		}
		out[line[:i]] = v
	}
	return out
}

func httpGet(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// TestBinaryAdmin runs the binary with -admin and -admin-pprof in front of
// one live and one dead memcached server, as an operator would: /metrics
// counts the requests served and shows the live server up and the dead one
// down, /readyz is 200 and says so, /healthz and /debug/pprof/ answer.
func TestBinaryAdmin(t *testing.T) {
	bin := mcpageBinary(t)
	origin := textOrigin(t)
	live := mctest.Start(t)
	dead := freeAddr(t)
	adminAddr := freeAddr(t)
	addr := startMcpage(t, bin, "-upstream", origin.Listener.Addr().String(), "-loops", "2",
		"-memcached", live.Addr+","+dead, "-mc-failures", "1", "-mc-retry", "1h",
		"-admin", adminAddr, "-admin-pprof")
	base := "http://" + adminAddr
	for i := 0; i < 3; i++ {
		code, body, _ := httpGet(t, "http://"+addr+"/x")
		if code != 200 || body != "from origin" {
			t.Fatalf("GET /x: %d %q", code, body)
		}
	}
	var m map[string]float64
	if !waitFor(10*time.Second, func() bool {
		m = scrapeSeries(t, base+"/metrics")
		return m[`mcpage_memcached_server_up{server="`+live.Addr+`"}`] == 1 &&
			m[`mcpage_memcached_server_ejected_loops{server="`+dead+`"}`] >= 1
	}) {
		t.Fatalf("memcached state never showed %s up and %s ejected:\n%v", live.Addr, dead, m)
	}
	if v, ok := m[`mcpage_memcached_server_up{server="`+dead+`"}`]; !ok || v != 0 {
		t.Errorf("dead server up = %v (%v)", v, ok)
	}
	// Every GET looked its page up on one of the two (the live one is
	// never ejected); the dead one failed to connect and was ejected.
	if ops := m[`mcpage_memcached_server_operations_total{server="`+live.Addr+`"}`] +
		m[`mcpage_memcached_server_operations_total{server="`+dead+`"}`]; ops < 3 {
		t.Errorf("memcached operations %v, want at least 3", ops)
	}
	if m[`mcpage_memcached_server_ejections_total{server="`+dead+`"}`] < 1 ||
		m[`mcpage_memcached_server_connection_failures_total{server="`+dead+`"}`] < 1 ||
		m[`mcpage_memcached_server_ejections_total{server="`+live.Addr+`"}`] != 0 {
		t.Errorf("ejections: dead %v (connection failures %v), live %v", m[`mcpage_memcached_server_ejections_total{server="`+dead+`"}`],
			m[`mcpage_memcached_server_connection_failures_total{server="`+dead+`"}`], m[`mcpage_memcached_server_ejections_total{server="`+live.Addr+`"}`])
	}
	gets := 0.0
	for k, v := range m {
		if strings.HasPrefix(k, "mcpage_requests_total{") && strings.Contains(k, `method="GET"`) {
			gets += v
		}
	}
	if gets != 3 || m[`mcpage_responses_total{class="2xx"}`] != 3 || m["mcpage_connections_total"] < 1 {
		t.Errorf("GETs %v, 2xx %v, connections %v", gets, m[`mcpage_responses_total{class="2xx"}`], m["mcpage_connections_total"])
	}
	code, body, hdr := httpGet(t, base+"/readyz")
	if code != 200 || !strings.Contains(body, "memcached: 1/2 servers up") || !strings.Contains(body, "memcached "+dead+": ejected") {
		t.Errorf("/readyz: %d %q", code, body)
	}
	if hdr.Get("Cache-Control") != "no-store" {
		t.Errorf("/readyz Cache-Control %q", hdr.Get("Cache-Control"))
	}
	if code, _, _ := httpGet(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	if code, _, _ := httpGet(t, base+"/debug/pprof/"); code != 200 {
		t.Errorf("/debug/pprof/ with -admin-pprof: %d", code)
	}
}

// TestBinaryAdminWithoutPprof: without -admin-pprof, /debug/pprof/ is 404
// while the other endpoints answer.
func TestBinaryAdminWithoutPprof(t *testing.T) {
	bin := mcpageBinary(t)
	origin := textOrigin(t)
	adminAddr := freeAddr(t)
	startMcpage(t, bin, "-upstream", origin.Listener.Addr().String(), "-loops", "1", "-admin", adminAddr)
	base := "http://" + adminAddr
	if code, _, _ := httpGet(t, base+"/debug/pprof/"); code != 404 {
		t.Errorf("/debug/pprof/ without -admin-pprof: %d", code)
	}
	if code, body, _ := httpGet(t, base+"/readyz"); code != 200 || strings.Contains(body, "memcached") {
		t.Errorf("/readyz: %d %q", code, body)
	}
}

// TestAdminAddressInUse: a -admin address that cannot be bound exits 1 with
// one line naming the flag, before the proxy is built.
func TestAdminAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var stderr bytes.Buffer
	code := run([]string{"-listen", freeAddr(t), "-admin", ln.Addr().String()}, &stderr)
	if out := stderr.String(); code != 1 || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, `mcpage: -admin "`+ln.Addr().String()+`"`) {
		t.Fatalf("exit %d, stderr %q", code, out)
	}
}
