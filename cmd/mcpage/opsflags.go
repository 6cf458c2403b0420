package main

import (
	"flag"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/mcpage/mcpage/server"
)

// opsOptions are the flags for operating at the edge: the PROXY protocol
// from a load balancer in front, and graceful restarts (restart.go).
type opsOptions struct {
	proxyProtocol bool
	proxyAllow    string
	drainTimeout  time.Duration
	pidFile       string
}

func (o *opsOptions) register(fs *flag.FlagSet) {
	fs.BoolVar(&o.proxyProtocol, "proxy-protocol", false, "read a PROXY protocol header (HAProxy v1 or v2) before the first request of each connection from -proxy-protocol-allow and take the client's address from it (X-Forwarded-For, access log, -purge-allow); such peers must send one, others must not")
	fs.StringVar(&o.proxyAllow, "proxy-protocol-allow", "127.0.0.0/8,::1/128", "networks (comma-separated CIDRs) of the proxies that send PROXY protocol headers, with -proxy-protocol")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", 30*time.Second, "after a graceful restart (SIGUSR2), the longest the old process keeps serving its connections before it exits")
	fs.StringVar(&o.pidFile, "pid-file", "", "file to write the process ID to once serving; a graceful restart's new process rewrites it; empty = none")
}

// build validates the flags and sets their Config fields.
func (o *opsOptions) build(cfg *server.Config) error {
	if o.drainTimeout <= 0 {
		return fmt.Errorf("-drain-timeout %v: must be positive", o.drainTimeout)
	}
	if !o.proxyProtocol {
		return nil
	}
	nets, err := parseCIDRs("-proxy-protocol-allow", o.proxyAllow)
	if err != nil {
		return err
	}
	if len(nets) == 0 {
		return fmt.Errorf("-proxy-protocol-allow: empty with -proxy-protocol: no peer could send a header")
	}
	cfg.ProxyProtocol, cfg.ProxyAllow = true, nets
	return nil
}

// parseCIDRs parses a comma-separated list of networks for flag name.
func parseCIDRs(name, v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, c := range strings.Split(v, ",") {
		if c = strings.TrimSpace(c); c == "" {
			continue
		}
		pfx, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("%s %q: want CIDRs such as 10.0.0.0/8", name, c)
		}
		out = append(out, pfx.Masked())
	}
	return out, nil
}
