package main

// Configuration sources: every flag may also come from an environment
// variable or from a config file. A flag given on the command line wins over
// the environment, which wins over the file, which wins over the default.
// Nothing here knows any particular flag: it works on the flag.FlagSet
// (VisitAll, Lookup, Set), so a flag added to parseFlags gets its variable
// and its file name at once.
//
// Environment: MCPAGE_ + the flag name upper-cased with '-' as '_'
// (-mc-conns is MCPAGE_MC_CONNS). A variable that is set counts, even when
// empty. Variables with the prefix that name no flag are not errors (scripts
// use such names for themselves, e.g. the anchors' MCPAGE_ARGS): they are
// listed by -print-config and logged at start.
//
// File (-config PATH, or MCPAGE_CONFIG): UTF-8 text, one setting per line,
//
//	# comment
//	name = value
//	name = "quoted value"   # comment
//
// where name is a flag name without its dash. Blank lines and lines whose
// first non-blank character is '#' are ignored. An unquoted value is the
// rest of the line with surrounding blanks removed ('#' inside it is part of
// the value: regexps and media types may hold one); a value in double
// quotes uses Go's string syntax (for an empty value, leading or trailing
// blanks, or escapes) and may be followed by a comment. A name given twice,
// an unknown name, -config or -print-config in the file, a line without
// '=' and a value the flag refuses are errors naming the file, the line and
// the flag. -print-config writes the same syntax, so its output is a config
// file.
//
// Only cmd/mcpage reads the environment; packages get everything through
// their Config structs.

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
)

const (
	envPrefix       = "MCPAGE_"
	configFlag      = "config"
	printConfigFlag = "print-config"
	// maxConfigFile bounds the config file: a larger one is surely not one.
	maxConfigFile = 1 << 20
)

// stdout is where -print-config writes; tests replace it.
var stdout io.Writer = os.Stdout

// envName is the environment variable that sets flag name.
func envName(name string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// configSources applies the environment and the config file to a FlagSet
// and remembers where each flag's value came from. It is used by one
// goroutine, while the flags are parsed at start.
type configSources struct {
	fs    *flag.FlagSet
	file  string // -config
	print bool   // -print-config
	// from maps a flag name to where its value came from; absent for a
	// default.
	from map[string]origin
	// unknownEnv lists the MCPAGE_ variables that name no flag, sorted.
	unknownEnv []string
}

// addConfigFlags registers -config and -print-config on fs. Call it before
// parse, with the other flags.
func addConfigFlags(fs *flag.FlagSet) *configSources {
	c := &configSources{fs: fs, from: map[string]origin{}}
	fs.StringVar(&c.file, configFlag, "", "config file: one `name = value` per line, names as flags without the dash, # comments; flags on the command line win over MCPAGE_* environment variables, which win over the file")
	fs.BoolVar(&c.print, printConfigFlag, false, "print every flag's effective value and where it came from (flag, environment, file, default) as a config file, and exit")
	return c
}

// parse stands in for fs.Parse(args): it parses the command line, then
// sets from the config file every flag it names, then from environ
// ("NAME=value" entries, as os.Environ) every flag that has a variable, and
// finally parses the command line again, so that each source overrides the
// one before it. Each flag.Value's Set must therefore let the last call
// win, as the standard ones do. Errors from the command line are returned
// as fs.Parse returns them (flag.ErrHelp included); others name the
// variable or file and line, and the flag.
func (c *configSources) parse(args, environ []string) error {
	if err := c.fs.Parse(args); err != nil {
		return err
	}
	onCommandLine := map[string]bool{}
	c.fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })

	env := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, envPrefix) {
			continue
		}
		if _, dup := env[k]; !dup { // the first wins, as os.Getenv
			env[k] = v
		}
	}
	byEnv := map[string]string{} // variable → flag name
	c.fs.VisitAll(func(f *flag.Flag) {
		if f.Name != printConfigFlag {
			byEnv[envName(f.Name)] = f.Name
		}
	})
	for k := range env {
		if _, ok := byEnv[k]; !ok {
			c.unknownEnv = append(c.unknownEnv, k)
		}
	}
	sort.Strings(c.unknownEnv)

	if !onCommandLine[configFlag] {
		if v, ok := env[envName(configFlag)]; ok {
			c.file = v
			c.from[configFlag] = origin{fromEnv, envName(configFlag)}
		}
	}
	if c.file != "" {
		if err := c.applyFile(c.file); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(byEnv))
	for k := range byEnv {
		names = append(names, k)
	}
	sort.Strings(names) // errors in a stable order
	for _, k := range names {
		v, ok := env[k]
		name := byEnv[k]
		if !ok || name == configFlag {
			continue
		}
		if err := c.fs.Set(name, v); err != nil {
			return fmt.Errorf("%s: invalid value %q for -%s: %v", k, v, name, err)
		}
		c.from[name] = origin{fromEnv, k}
	}
	if err := c.fs.Parse(args); err != nil {
		return err // it parsed once already; cannot happen
	}
	for name := range onCommandLine {
		c.from[name] = origin{kind: fromFlag}
	}
	return nil
}

// applyFile sets the flags path names. Every error names path and line.
func (c *configSources) applyFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("-config: %v", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return fmt.Errorf("-config: %v", err)
	}
	if len(data) > maxConfigFile {
		return fmt.Errorf("-config %s: larger than %d bytes", path, maxConfigFile)
	}
	entries, err := parseConfigFile(path, data)
	if err != nil {
		return err
	}
	for _, e := range entries {
		where := fmt.Sprintf("%s:%d", path, e.line)
		switch {
		case e.name == configFlag || e.name == printConfigFlag:
			return fmt.Errorf("%s: -%s cannot be set in a config file", where, e.name)
		case c.fs.Lookup(e.name) == nil:
			return fmt.Errorf("%s: unknown flag -%s", where, e.name)
		}
		if err := c.fs.Set(e.name, e.value); err != nil {
			return fmt.Errorf("%s: invalid value %q for -%s: %v", where, e.value, e.name, err)
		}
		c.from[e.name] = origin{fromFile, where}
	}
	return nil
}

// configEntry is one setting of a config file.
type configEntry struct {
	name, value string
	line        int
}

// parseConfigFile reads the settings of a config file (syntax above),
// checking its syntax but not its names or values.
func parseConfigFile(path string, data []byte) ([]configEntry, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 BOM some editors write
	var out []configEntry
	first := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxConfigFile+1)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("%s:%d: want name = value, got %q", path, n, line)
		}
		if strings.HasPrefix(name, "-") || strings.ContainsAny(name, " \t\"") {
			return nil, fmt.Errorf("%s:%d: %q is not a flag name (write names without a dash, such as listen)", path, n, name)
		}
		value = strings.TrimSpace(value)
		if strings.HasPrefix(value, `"`) {
			q, err := strconv.QuotedPrefix(value)
			if err == nil {
				rest := strings.TrimSpace(value[len(q):])
				if rest != "" && rest[0] != '#' {
					err = errors.New("text after the closing quote")
				}
				value, _ = strconv.Unquote(q)
			}
			if err != nil {
				return nil, fmt.Errorf("%s:%d: -%s: bad quoted value: %v", path, n, name, err)
			}
		}
		if l, dup := first[name]; dup {
			return nil, fmt.Errorf("%s:%d: -%s given twice (first on line %d)", path, n, name, l)
		}
		first[name] = n
		out = append(out, configEntry{name: name, value: value, line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("-config %s: %v", path, err)
	}
	return out, nil
}

// annotate adds to an error of build, which starts with the flag it is
// about ("-mc-conns 0: want 1 to 64"), where that flag's value came from
// when that was not the command line.
func (c *configSources) annotate(err error) error {
	msg := err.Error()
	if !strings.HasPrefix(msg, "-") {
		return err
	}
	name := msg[1:]
	if i := strings.IndexAny(name, " :"); i >= 0 {
		name = name[:i]
	}
	if o, ok := c.from[name]; ok && o.kind != fromFlag {
		return fmt.Errorf("%w (from %s)", err, o.where)
	}
	return err
}

// write prints every flag's effective value and its source, in config
// file syntax: what -print-config shows.
func (c *configSources) write(w io.Writer) {
	fmt.Fprintf(w, "# mcpage effective configuration: every flag, its value and where it came from\n")
	fmt.Fprintf(w, "# (flag > environment > config file > default). This is a valid -config file.\n")
	if c.file != "" {
		fmt.Fprintf(w, "# config = %s   (%s)\n", strconv.Quote(c.file), c.source(configFlag))
	}
	for _, k := range c.unknownEnv {
		fmt.Fprintf(w, "# ignored: %s names no flag\n", k)
	}
	var lines [][2]string
	width := 0
	c.fs.VisitAll(func(f *flag.Flag) {
		if f.Name == configFlag || f.Name == printConfigFlag {
			return
		}
		l := f.Name + " = " + strconv.Quote(f.Value.String())
		lines = append(lines, [2]string{l, c.source(f.Name)})
		width = max(width, min(len(l), 48))
	})
	for _, l := range lines {
		fmt.Fprintf(w, "%-*s   # %s\n", width, l[0], l[1])
	}
}

// origin is where a flag's value came from.
type origin struct {
	kind  originKind
	where string // the variable, or "path:line"
}

type originKind uint8

const (
	fromFlag originKind = iota + 1
	fromEnv
	fromFile
)

// source names where flag name's value came from, for -print-config.
func (c *configSources) source(name string) string {
	o, ok := c.from[name]
	switch {
	case !ok:
		return "default"
	case o.kind == fromFlag:
		return "flag"
	case o.kind == fromEnv:
		return "env " + o.where
	}
	return "file " + o.where
}

// logUnknown warns of the MCPAGE_ variables that name no flag (a typo
// would otherwise go unnoticed). Call it once, at start.
func (c *configSources) logUnknown(log *slog.Logger) {
	for _, k := range c.unknownEnv {
		log.Warn("environment variable names no flag; ignored", "var", k)
	}
}
