package main

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOpsFlags: -proxy-protocol with its allowed networks (loopback by
// default) reaches the Config, -drain-timeout defaults to 30s, and a bad
// value is one line naming the flag.
func TestOpsFlags(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil || o.cfg.ProxyProtocol || o.cfg.ProxyAllow != nil || o.drainTimeout != 30*time.Second || o.pidFile != "" {
		t.Errorf("defaults: proxy %v %v, drain %v, pid file %q, %v", o.cfg.ProxyProtocol, o.cfg.ProxyAllow, o.drainTimeout, o.pidFile, err)
	}
	o, err = parseFlags([]string{"-proxy-protocol"}, io.Discard)
	if err != nil || !o.cfg.ProxyProtocol || len(o.cfg.ProxyAllow) != 2 ||
		o.cfg.ProxyAllow[0] != netip.MustParsePrefix("127.0.0.0/8") || o.cfg.ProxyAllow[1] != netip.MustParsePrefix("::1/128") {
		t.Errorf("-proxy-protocol: %v %v", o.cfg.ProxyAllow, err)
	}
	o, err = parseFlags([]string{"-proxy-protocol", "-proxy-protocol-allow", " 10.1.2.3/8, 2001:db8::/32", "-drain-timeout", "5s"}, io.Discard)
	if err != nil || len(o.cfg.ProxyAllow) != 2 || o.cfg.ProxyAllow[0] != netip.MustParsePrefix("10.0.0.0/8") || o.drainTimeout != 5*time.Second {
		t.Errorf("-proxy-protocol-allow: %v %v", o.cfg.ProxyAllow, err)
	}
	for name, args := range map[string][]string{
		"-proxy-protocol-allow":       {"-proxy-protocol", "-proxy-protocol-allow", "10.0.0.1"},
		"-proxy-protocol-allow empty": {"-proxy-protocol", "-proxy-protocol-allow", ""},
		"-drain-timeout":              {"-drain-timeout", "0s"},
	} {
		var stderr bytes.Buffer
		code := run(args, &stderr)
		flag := strings.Fields(name)[0]
		if out := stderr.String(); code != 2 || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "mcpage: "+flag) {
			t.Errorf("%s: exit %d, stderr %q", name, code, out)
		}
	}
}

// TestInheritedListenerMatches: an inherited listener is used only for the
// address the flag names.
func TestInheritedListenerMatches(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).AddrPort().Port()
	for want, same := range map[string]bool{
		ln.Addr().String():          true,
		"localhost:" + itoa(port):   true,
		"127.0.0.2:" + itoa(port):   false,
		"127.0.0.1:" + itoa(port+1): false,
		"0.0.0.0:" + itoa(port):     false,
		"[::]:" + itoa(port):        false,
		"nope":                      false,
	} {
		if got := sameAddr(want, ln.Addr()); got != same {
			t.Errorf("sameAddr(%q, %v) = %v", want, ln.Addr(), got)
		}
	}
	all, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	if p := itoa(all.Addr().(*net.TCPAddr).AddrPort().Port()); !sameAddr(":"+p, all.Addr()) || !sameAddr("0.0.0.0:"+p, all.Addr()) {
		t.Errorf("unspecified addresses differ from %v", all.Addr())
	}
}

// TestTakeInheritance: the descriptors named in the environment become
// listeners and the ready pipe, and the variables are gone afterwards.
func TestTakeInheritance(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	t.Setenv(envListenFD, dupFD(t, f))
	t.Setenv(envReadyFD, dupFD(t, w))
	w.Close()
	inh, err := takeInheritance()
	if err != nil {
		t.Fatal(err)
	}
	defer inh.listen.Close()
	if _, ok := os.LookupEnv(envListenFD); ok || inh.admin != nil || inh.ready == nil {
		t.Fatalf("inheritance %+v", inh)
	}
	if inh.listen.Addr().String() != ln.Addr().String() {
		t.Errorf("inherited %v, listening on %v", inh.listen.Addr(), ln.Addr())
	}
	inh.ready.Write([]byte{1})
	inh.ready.Close()
	var b [2]byte
	if n, _ := r.Read(b[:]); n != 1 {
		t.Errorf("ready pipe: %d bytes", n)
	}
	t.Setenv(envAdminFD, dupFD(t, r))
	if _, err := takeInheritance(); err == nil || !strings.Contains(err.Error(), envAdminFD) {
		t.Errorf("a pipe as a listener: %v", err)
	}
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }

// dupFD is a new descriptor of f that no *os.File owns, for
// takeInheritance to take over (and close).
func dupFD(t *testing.T, f *os.File) string {
	t.Helper()
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(fd)
}
