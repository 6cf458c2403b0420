package ketama

import "errors"

// Sentinel errors returned (wrapped, with the offending entry) by Parse and
// New. Match them with errors.Is.
var (
	// ErrNoServers: the list is empty or blank.
	ErrNoServers = errors.New("ketama: no servers")
	// ErrTooManyServers: more than MaxServers servers.
	ErrTooManyServers = errors.New("ketama: too many servers")
	// ErrEmptyEntry: Parse found nothing between two commas, or a trailing comma.
	ErrEmptyEntry = errors.New("ketama: empty server entry")
	// ErrBadHost: the host is empty, longer than MaxHostLen, contains a byte
	// outside [A-Za-z0-9._-], or is an IPv6 literal without brackets or a
	// bracketed text that is not an IPv6 address.
	ErrBadHost = errors.New("ketama: bad server host")
	// ErrBadPort: the port is missing after a colon, not decimal, or outside 1..65535.
	ErrBadPort = errors.New("ketama: bad server port")
	// ErrBadWeight: Parse found a weight that is not a decimal in 1..4294967295.
	ErrBadWeight = errors.New("ketama: bad server weight")
	// ErrDuplicateServer: the same host:port appears twice. libmemcached would
	// accept it and give every key of the pair to the first copy (ties go to
	// the lower index), which is never what a configuration means.
	ErrDuplicateServer = errors.New("ketama: duplicate server")
)
