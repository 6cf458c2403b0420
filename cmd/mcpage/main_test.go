package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcpage/mcpage/server/mcstore"
)

func TestBadFlagsOneClearLine(t *testing.T) {
	cases := map[string][]string{
		"-listen":        {"-listen", "nope"},
		"-upstream":      {"-upstream", "http://x/app"},
		"https":          {"-upstream", "https://a:1"},
		"-ttl":           {"-ttl", "-5s"},
		"-store-size":    {"-store-size", "12Q"},
		"-bypass-cookie": {"-bypass-cookie", "("},
		"-loops":         {"-loops", "-1"},
		"-key-prefix":    {"-key-prefix", "a b"},
		"-max-item":      {"-max-item", "1G", "-store-size", "10M"},
		"-read-timeout":  {"-read-timeout", "0s"},
		"-purge-allow":   {"-purge-allow", "10.0.0.0/33"},
		"unknown":        {"-no-such-flag"},
		"-memcached":     {"-memcached", "127.0.0.1:notaport"},
		"-admin":         {"-admin", "nope"},
		"-admin-pprof":   {"-admin-pprof"},
		"-admin in use":  {"-admin", "256.0.0.1:1"},
		"-mc-item-size":  {"-mc-item-size", "1K"},
		"chunks":         {"-memcached", "127.0.0.1:11211", "-mc-item-size", "64K", "-max-item", "32M", "-store-size", "64M"},
		"-raw-type":      {"-raw-content-type", "text/html\r\nX: y"},
		"-raw-type CR":   {"-raw-content-type", "text/html\rX"},
		"-raw-type none": {"-raw-content-type", ""},
		"-raw-gzip-flag": {"-raw-gzip-flag", "0x100000000"},
		"-log-level":     {"-log-level", "loud"},
		"-access-log":    {"-access-log", "/nonexistent-dir/access.log"},
	}
	for name, args := range cases {
		var stderr bytes.Buffer
		code := run(args, &stderr)
		out := stderr.String()
		if code == 0 {
			t.Errorf("%s: exit 0", name)
		}
		if strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "mcpage: ") {
			t.Errorf("%s: want one line, got %q", name, out)
		}
	}
}

// TestLogFlags: -log-level takes debug, info, warn, error in any case
// (default info); a bad level or an access log that cannot be opened is one
// line naming the flag.
func TestLogFlags(t *testing.T) {
	for v, want := range map[string]slog.Level{"debug": slog.LevelDebug, "INFO": slog.LevelInfo, "Warn": slog.LevelWarn, "error": slog.LevelError} {
		o, err := parseFlags([]string{"-log-level", v}, io.Discard)
		if err != nil || o.level != want {
			t.Errorf("-log-level %s: %v %v", v, o, err)
		}
	}
	if o, err := parseFlags(nil, io.Discard); err != nil || o.level != slog.LevelInfo || o.accessLog != "" {
		t.Errorf("defaults: %v", err)
	}
	for flag, args := range map[string][]string{
		"-log-level":  {"-log-level", "verbose"},
		"-access-log": {"-access-log", t.TempDir()}, // a directory
	} {
		var stderr bytes.Buffer
		code := run(args, &stderr)
		if out := stderr.String(); code == 0 || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "mcpage: "+flag+" ") {
			t.Errorf("%s: exit %d, stderr %q", flag, code, out)
		}
	}
}

func TestFlagsBuildConfig(t *testing.T) {
	o, err := parseFlags([]string{"-listen", "127.0.0.1:1", "-upstream", "http://127.0.0.1:2/, 127.0.0.1:3",
		"-store-size", "64M", "-ttl", "0", "-compress-min", "0", "-max-item", "512K", "-bypass-cookie", "^sess"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := o.cfg
	if got := strings.Join(c.Upstream.Addrs, ","); got != "127.0.0.1:2,127.0.0.1:3" {
		t.Errorf("upstreams %q", got)
	}
	if c.StoreSize != 64<<20 || c.MaxItem != 512<<10 || c.Policy.DefaultTTL != 0 || c.CompressMin >= 0 {
		t.Errorf("config %+v", c)
	}
	if c.BypassCookie == nil || !c.BypassCookie.MatchString("session") {
		t.Error("bypass regexp")
	}
	var help bytes.Buffer
	if _, err := parseFlags([]string{"-h"}, &help); err != errHelp || !strings.Contains(help.String(), "-upstream-max-conns") {
		t.Errorf("help: %v %q", err, help.String())
	}
}

// The memcached flags reach the client and the store: items of
// -mc-item-size (less the item overhead), replies up to the larger of it and
// -max-item, pages up to -max-item, raw values as -raw-content-type,
// -raw-gzip-flag and -ttl say.
func TestMemcachedFlagsBuildStoreConfig(t *testing.T) {
	o, err := parseFlags([]string{"-memcached", "127.0.0.1:11211", "-mc-item-size", "2M", "-max-item", "16M",
		"-raw-content-type", "text/plain", "-raw-gzip-flag", "0x2", "-ttl", "0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, c := o.mcStore, o.mcClient
	if c.MaxValueSize != 16<<20 || s.ItemSize != 2<<20-mcstore.ItemOverhead || s.MaxPage != 16<<20 ||
		s.ChunkMemory < s.MaxPage || s.RawContentType != "text/plain" || s.RawGzipFlag != 2 || s.RawTTL != 0 ||
		s.Keep == 0 || s.FillTTL == 0 {
		t.Errorf("client %+v, store %+v", c, s)
	}
	o, err = parseFlags([]string{"-memcached", "127.0.0.1:11211"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, c = o.mcStore, o.mcClient
	if c.MaxValueSize != 8<<20 || s.ItemSize != mcstore.DefaultItemSize || s.MaxPage != 8<<20 ||
		s.RawContentType != mcstore.DefaultRawContentType || s.RawGzipFlag != 0 || s.RawTTL != 2*time.Minute {
		t.Errorf("defaults: client %+v, store %+v", c, s)
	}
}

// TestBinaryServesAndStopsOnSIGTERM builds the binary and runs it as a user
// would: it proxies and caches, and SIGTERM makes it exit 0.
func TestBinaryServesAndStopsOnSIGTERM(t *testing.T) {
	bin := mcpageBinary(t)
	origin := textOrigin(t)
	addr := freeAddr(t)
	cmd := exec.Command(bin, "-listen", addr, "-upstream", origin.Listener.Addr().String(), "-loops", "2")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var resp *http.Response
	var err error
	for i := 0; i < 100; i++ {
		if resp, err = http.Get("http://" + addr + "/x"); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = http.Get("http://" + addr + "/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "from origin" || resp.Header.Get("X-Cache") != "HIT" {
		t.Fatalf("second request: %q %q", b, resp.Header.Get("X-Cache"))
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("did not exit after SIGTERM")
	}
}
