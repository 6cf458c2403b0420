// Package upstream is mcpage's upstream side: keep-alive connection pools to
// the origin servers (fasthttp.HostClient, one per address) and a bounded pool
// of worker goroutines that run the exchanges, so that a blocking upstream
// round trip never runs on a gnet event loop.
//
// Life of a request. The event loop parses a client request, builds the
// upstream request with BuildRequest into a Job from AcquireJob, sets Job.Done
// and hands it to Pool.Submit, which never blocks. A worker picks the job up,
// chooses an address, sends the request, reads the complete response into
// Job.Resp (or sets Job.Err) and calls Job.Done on the worker goroutine. Done
// typically renders the response and hands it back to the loop; it releases
// the Job with ReleaseJob once nothing refers to it any more.
//
// Faithful proxying. Requests are written by this package, not by
// fasthttp.Request.Write: the request line and the end-to-end header fields go
// out as received (names in their original case, duplicates and order kept),
// with no User-Agent or Content-Type added. The exceptions keep the origin on
// the page the cache stores it as: Host is always exactly the host the request
// is served (and keyed) for, an absolute-form target goes out in origin-form,
// and a field whose name holds '_' is dropped (see BuildRequest). fasthttp's
// own writer would re-derive the target from a parsed URI (dropping an empty
// query or a fragment, and writing "/" when the Host does not parse) and refuse
// a GET that carries a body.
//
// Responses are read by fasthttp with header-name normalising and the default
// Content-Type turned off; bodies are de-chunked but never decompressed. Each
// head is checked first for what fasthttp would let through although another
// recipient could frame it differently (a bare LF or CR, obs-fold, a 1xx that
// frames a body): those fail with ErrBadResponse at once. Interim (1xx)
// responses are read here too, each handed to Job.Interim as it arrives
// (interim.go), since fasthttp's own reader would drop them. A response that
// stops mid-way on a connection the upstream keeps open fails with ErrStalled
// after Config.ResponseIdleTimeout rather than at Config.Timeout.
//
// Retries. A request the upstream may already have seen is never sent again:
// once the first byte of a request may have been written, whatever happens is
// the job's result. Only a failure to connect, where nothing was sent, moves on
// to another address (at most three addresses per job). Idle
// keep-alive connections the upstream has closed are detected before use (see
// connAlive), which removes the common cause of failures that other proxies
// paper over with a retry.
package upstream
