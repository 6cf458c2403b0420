// Package mcclient is a non-blocking, pipelined memcached client speaking
// the meta protocol (mg, ms, md, ma, mn) of memcached 1.6.18 and placing
// keys with libmemcached-compatible ketama (package ketama). It knows
// nothing of HTTP.
//
// # Layers
//
//   - Encoder (AppendGet, AppendSet, AppendDelete, AppendArith, AppendNoop):
//     appends one command to a caller's buffer; keys memcached cannot take
//     verbatim are sent base64-encoded (CheckKey). Only flags 1.6.18 knows
//     are sent.
//   - Decoder (Reply.Parse): incremental over []byte; returns the bytes a
//     reply takes, tells "need more" (0, nil) from a malformed stream (an
//     error), bounds the line and value sizes, never allocates.
//   - Connection state machine (internal): a FIFO of pending operations in
//     preallocated slots, each reply checked against the oldest one's opaque
//     token; on EOF, a malformed or out-of-step reply, or the oldest
//     operation passing its deadline, every pending operation fails with an
//     error saying why, the connection is closed and redialed with backoff.
//   - Server health: a server failing Config.FailureLimit times in a row is
//     ejected for Config.RetryInterval; its keys go to the next server on
//     the ring (ketama.Ring.PickLive), no other key moves; then one
//     connection attempt probes it back.
//
// # Two drivers of the same state machine
//
// LoopClient is loop-affine, for the server: its connections live on one
// gnet event loop and every method and callback runs there, with no locks
// and no goroutine or allocation per operation. Results arrive through a
// Handler interface plus a uint64 token (no closures). The host engine's
// EventHandler must forward OnOpen, OnTraffic and OnClose of connections
// whose Context() implements LoopConnHandler (see LoopConn and LoopHost),
// and call LoopClient.Sweep on the loop periodically (e.g. from OnTick via
// EventLoop.Execute), since gnet has no per-connection deadlines. Its
// connections write in slices of whole commands of at most 1 MiB, one at a
// time with the loop's other events served in between, so many large
// values in flight neither stall the loop nor pile up in gnet's outbound
// buffer; the rest waits in the client, and fails with everything pending
// if its connection is lost or times out.
//
// Client is goroutine-safe with automatic pipelining, for tools, tests and
// programs without an event loop: concurrent callers share
// Config.ConnsPerServer connections, and a lone caller is not delayed.
//
// # Anti-stampede flags
//
// GetOptions.Vivify (N), Recache (R) and Touch (T) and the reply flags
// Result.Win (W), Stale (X) and WinTaken (Z); DeleteOptions.Invalidate (I)
// with TTL (T); SetOptions.CAS (C), Invalidate (I), TTL (T) and Flags (F).
// Their semantics are those of memcached 1.6.18's doc/protocol.txt ("Meta
// Get", "Meta Delete", "Meta Set"); the tests walk through each flow.
//
// # No quiet mode
//
// Every command asks for its reply; the q flag is not offered. memcached's
// CLIENT_ERROR and SERVER_ERROR lines (e.g. "object too large for cache",
// "out of memory storing object") carry no opaque token, so an error
// after several quiet stores could not be told apart from its neighbours'
// silent successes. And the saving is small: one status line of about 20
// bytes per store, about a tenth of the client's work for a 100-byte
// value and well under 1% for a page-sized one.
package mcclient
