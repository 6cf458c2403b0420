package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeConfig writes a config file into the test's directory.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mcpage.conf")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigPrecedence: for a flag of each kind (string, duration, byte
// size, int, bool), every combination of command line, environment and
// config file gives the value of the strongest source present (flag > env
// > file > default), and -print-config's source says which.
func TestConfigPrecedence(t *testing.T) {
	type kind struct {
		flag                string
		def, file, env, arg string // values; def is the default's String()
		got                 func(*options) string
	}
	kinds := []kind{
		{"listen", "127.0.0.1:8080", "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3",
			func(o *options) string { return o.listen }},
		{"mc-timeout", "100ms", "1s", "2s", "3s",
			func(o *options) string { return o.mcTimeout.String() }},
		{"store-size", "256M", "16M", "32M", "64M",
			func(o *options) string { return fmt.Sprint(int64(o.storeSize)>>20) + "M" }},
		{"mc-conns", "1", "2", "3", "4",
			func(o *options) string { return fmt.Sprint(o.mcConns) }},
		// Two values only: the source tells the strongest apart.
		{"admin-pprof", "false", "true", "false", "true",
			func(o *options) string { return fmt.Sprint(o.adminPprof) }},
	}
	for _, k := range kinds {
		for mask := 0; mask < 8; mask++ {
			hasArg, hasEnv, hasFile := mask&1 != 0, mask&2 != 0, mask&4 != 0
			name := fmt.Sprintf("%s/flag=%v,env=%v,file=%v", k.flag, hasArg, hasEnv, hasFile)
			t.Run(name, func(t *testing.T) {
				args := []string{"-admin", "127.0.0.1:9"} // -admin-pprof needs it
				want, wantSrc := k.def, "default"
				if hasFile {
					args = append(args, "-config", writeConfig(t, "# test\n"+k.flag+" = "+k.file+"\n"))
					want, wantSrc = k.file, "file "
				}
				if hasEnv {
					t.Setenv(envName(k.flag), k.env)
					want, wantSrc = k.env, "env "+envName(k.flag)
				}
				if hasArg {
					args = append(args, "-"+k.flag+"="+k.arg)
					want, wantSrc = k.arg, "flag"
				}
				o, err := parseFlags(args, io.Discard)
				if err != nil {
					t.Fatal(err)
				}
				if got := k.got(o); got != want {
					t.Errorf("value %s, want %s", got, want)
				}
				if src := o.src.source(k.flag); !strings.HasPrefix(src, wantSrc) {
					t.Errorf("source %q, want %q", src, wantSrc)
				}
			})
		}
	}
}

// TestConfigFileSyntax: comments, blank lines, blanks around '=', quoted
// values (empty, with '#', with escapes, followed by a comment), '#' inside
// an unquoted value, CRLF line ends and a BOM.
func TestConfigFileSyntax(t *testing.T) {
	p := writeConfig(t, "\xef\xbb\xbf# mcpage\r\n\r\n   # indented comment\r\n"+
		"listen=127.0.0.1:7\r\n"+
		"  upstream   =   10.0.0.1:80 , 10.0.0.2:80  \r\n"+
		"bypass-cookie = ^(sess|wp#)\r\n"+
		"key-prefix = \"v1\\\"#\"   # a comment after a quoted value\r\n"+
		"raw-content-type = \"text/plain\"\n"+
		"access-log = \"\"\n"+
		"mc-retry = 5s")
	o, err := parseFlags([]string{"-config", p}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.listen != "127.0.0.1:7" || o.upstream != "10.0.0.1:80 , 10.0.0.2:80" || o.bypassCookie != "^(sess|wp#)" ||
		o.keyPrefix != `v1"#` || o.rawContentType != "text/plain" || o.accessLog != "" || o.mcRetry != 5*time.Second {
		t.Errorf("options %+v", o)
	}
	if got := o.src.source("listen"); got != "file "+p+":4" {
		t.Errorf("listen from %q", got)
	}
}

// TestConfigErrorsNameTheirPlace: a bad file, a bad variable and a value
// that fails validation each give one line naming the file and line, or
// the variable, and the flag; run exits 2.
func TestConfigErrorsNameTheirPlace(t *testing.T) {
	cases := []struct {
		name, file string
		env        [2]string
		want       string // in the message; FILE stands for the file's path
	}{
		{name: "no =", file: "listen 127.0.0.1:1\n", want: "FILE:1: want name = value"},
		{name: "empty name", file: "# x\n = 1\n", want: "FILE:2: want name = value"},
		{name: "dash", file: "-listen = 127.0.0.1:1\n", want: `FILE:1: "-listen" is not a flag name`},
		{name: "unknown", file: "listen = 127.0.0.1:1\nmc-con = 3\n", want: "FILE:2: unknown flag -mc-con"},
		{name: "bad int", file: "\nmc-conns = three\n", want: `FILE:2: invalid value "three" for -mc-conns`},
		{name: "bad duration", file: "mc-timeout = 5 ms\n", want: `FILE:1: invalid value "5 ms" for -mc-timeout`},
		{name: "bad size", file: "store-size = 12Q\n", want: `FILE:1: invalid value "12Q" for -store-size`},
		{name: "bad bool", file: "admin-pprof = yes please\n", want: `FILE:1: invalid value "yes please" for -admin-pprof`},
		{name: "twice", file: "ttl = 1m\n\nttl = 2m\n", want: "FILE:3: -ttl given twice (first on line 1)"},
		{name: "config in file", file: "config = /etc/other.conf\n", want: "FILE:1: -config cannot be set in a config file"},
		{name: "print-config in file", file: "print-config = true\n", want: "FILE:1: -print-config cannot be set"},
		{name: "open quote", file: "key-prefix = \"abc\n", want: "FILE:1: -key-prefix: bad quoted value"},
		{name: "after quote", file: "key-prefix = \"abc\" def\n", want: "FILE:1: -key-prefix: bad quoted value: text after the closing quote"},
		{name: "validation from file", file: "mc-conns = 0\n", want: "-mc-conns 0: want 1 to 64 (from FILE:1)"},
		{name: "bad env", env: [2]string{"MCPAGE_MC_CONNS", "x"}, want: `MCPAGE_MC_CONNS: invalid value "x" for -mc-conns`},
		{name: "empty env bool", env: [2]string{"MCPAGE_ADMIN_PPROF", ""}, want: `MCPAGE_ADMIN_PPROF: invalid value "" for -admin-pprof`},
		{name: "validation from env", env: [2]string{"MCPAGE_LOOPS", "-1"}, want: "-loops -1: want 0 (GOMAXPROCS) to 1024 (from MCPAGE_LOOPS)"},
		{name: "missing file", env: [2]string{"MCPAGE_CONFIG", "/nonexistent/mcpage.conf"}, want: "-config: open /nonexistent/mcpage.conf: no such file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var args []string
			want := c.want
			if c.file != "" {
				p := writeConfig(t, c.file)
				args = append(args, "-config", p)
				want = strings.ReplaceAll(want, "FILE", p)
			}
			if c.env[0] != "" {
				t.Setenv(c.env[0], c.env[1])
			}
			var stderr bytes.Buffer
			code := run(args, &stderr)
			out := stderr.String()
			if code != 2 || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "mcpage: ") || !strings.Contains(out, want) {
				t.Errorf("exit %d, stderr %q; want 2 and one line with %q", code, out, want)
			}
		})
	}
}

// TestConfigEnvironment: MCPAGE_CONFIG names the file; a set but empty
// variable counts (an explicit empty -memcached); variables that name no
// flag are ignored, listed by -print-config and logged.
func TestConfigEnvironment(t *testing.T) {
	p := writeConfig(t, "memcached = 127.0.0.1:11211\nttl = 7m\n")
	t.Setenv("MCPAGE_CONFIG", p)
	t.Setenv("MCPAGE_MEMCACHED", "")
	t.Setenv("MCPAGE_LISTN", "127.0.0.1:1")
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.memcached != "" || o.ttl != 7*time.Minute || o.listen != "127.0.0.1:8080" {
		t.Errorf("memcached %q ttl %v listen %q", o.memcached, o.ttl, o.listen)
	}
	if got := strings.Join(o.src.unknownEnv, ","); got != "MCPAGE_LISTN" {
		t.Errorf("unknown variables %q", got)
	}
	if got := o.src.source("config"); got != "env MCPAGE_CONFIG" {
		t.Errorf("config from %q", got)
	}
}

// TestPrintConfig: -print-config writes every flag once, with its value
// and source, exits 0 without serving, and its output read back as a
// config file gives the same configuration.
func TestPrintConfig(t *testing.T) {
	p := writeConfig(t, "mc-conns = 3\nkey-prefix = \"v1\\\"#\"\nbypass-cookie = ^(sess|a b)$\n")
	t.Setenv("MCPAGE_MC_TIMEOUT", "250ms")
	t.Setenv("MCPAGE_NOT_A_FLAG", "1")
	var out bytes.Buffer
	stdout = &out
	defer func() { stdout = os.Stdout }()
	var stderr bytes.Buffer
	if code := run([]string{"-print-config", "-config", p, "-listen", "127.0.0.1:4"}, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	text := out.String()
	for _, want := range []string{
		`listen = "127.0.0.1:4"`, "# flag\n",
		`mc-timeout = "250ms"`, "# env MCPAGE_MC_TIMEOUT\n",
		`mc-conns = "3"`, "# file " + p + ":1\n",
		`key-prefix = "v1\"#"`, `bypass-cookie = "^(sess|a b)$"`,
		`ttl = "2m0s"`, "# default\n",
		"# ignored: MCPAGE_NOT_A_FLAG names no flag\n",
		"# config = " + fmt.Sprintf("%q", p),
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	// Every flag but -config and -print-config, once.
	o, _ := parseFlags(nil, io.Discard)
	n := 0
	for _, line := range strings.Split(text, "\n") {
		if line != "" && line[0] != '#' {
			n++
		}
	}
	flags := 0
	o.src.fs.VisitAll(func(*flag.Flag) { flags++ })
	if n != flags-2 {
		t.Errorf("%d settings printed, want %d", n, flags-2)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr %q", stderr.String())
	}

	// Round trip: the output as the only source gives the same output.
	os.Unsetenv("MCPAGE_MC_TIMEOUT")
	q := writeConfig(t, text)
	again, err := parseFlags([]string{"-config", q}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if again.listen != "127.0.0.1:4" || again.mcTimeout != 250*time.Millisecond || again.mcConns != 3 ||
		again.keyPrefix != `v1"#` || again.bypassCookie != "^(sess|a b)$" {
		t.Errorf("round trip: %+v", again)
	}
}

// TestExampleConfigFile: docs/mcpage.conf, the example the systemd unit
// reads, is a valid config file.
func TestExampleConfigFile(t *testing.T) {
	o, err := parseFlags([]string{"-config", "../../docs/mcpage.conf"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.listen != "0.0.0.0:8080" || o.memcached != "127.0.0.1:11211" || o.admin != "127.0.0.1:9090" ||
		o.accessLog != "/var/log/mcpage/access.log" || !strings.HasPrefix(o.src.source("listen"), "file ../../docs/mcpage.conf:") {
		t.Errorf("options %+v", o)
	}
}
