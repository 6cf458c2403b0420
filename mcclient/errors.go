package mcclient

import "errors"

// Errors returned by the encoder and by the clients before a command is sent.
var (
	// ErrKeyEmpty: the key has zero bytes; memcached has no empty key.
	ErrKeyEmpty = errors.New("mcclient: empty key")
	// ErrKeyTooLong: the key exceeds 250 bytes, or needs base64 (it holds bytes
	// memcached keys cannot) and its encoding exceeds 250 characters (keys over 186 bytes).
	ErrKeyTooLong = errors.New("mcclient: key too long")
	// ErrValueTooLarge: the value exceeds Config.MaxValueSize, or memcached
	// answered "SERVER_ERROR object too large for cache" (which also deletes
	// the value previously stored under the key).
	ErrValueTooLarge = errors.New("mcclient: value too large")
	// ErrBadOptions: an option combination 1.6.18 rejects (a delete TTL
	// without Invalidate, an unknown SetMode or ArithMode), or an argument the
	// client cannot use (a nil or empty ring, a nil event loop, a server
	// index out of range).
	ErrBadOptions = errors.New("mcclient: invalid option combination")
)

// Errors returned by the reply decoder (Reply.Parse). Each one means the byte
// stream can no longer be trusted: the connection carrying it is closed.
var (
	// ErrMalformedReply: a reply line that is not meta-protocol syntax
	// (unknown code, bad number, missing CR before LF, bad token).
	ErrMalformedReply = errors.New("mcclient: malformed reply")
	// ErrReplyLineTooLong: no line end within MaxReplyLine bytes.
	ErrReplyLineTooLong = errors.New("mcclient: reply line too long")
	// ErrReplyValueTooLarge: a VA reply announces more bytes than the decoder's limit.
	ErrReplyValueTooLarge = errors.New("mcclient: reply value larger than limit")
	// ErrReplyFraming: a VA data block is not followed by CRLF.
	ErrReplyFraming = errors.New("mcclient: value block not terminated by CRLF")
)

// Errors delivered with a Result (Result.Err) or returned by Client methods.
var (
	// ErrOpaqueMismatch: a reply's opaque token is not the one of the oldest
	// pending operation: the replies are out of step with the requests.
	ErrOpaqueMismatch = errors.New("mcclient: reply opaque does not match oldest pending operation")
	// ErrUnexpectedReply: a reply arrived with no operation pending, a reply
	// code that cannot answer the pending command (e.g. ERROR, ME, VA to md),
	// or CLIENT_ERROR bad data chunk (server and client disagree on framing).
	ErrUnexpectedReply = errors.New("mcclient: unexpected reply")
	// ErrConnClosed: the connection ended (EOF or socket error) with the
	// operation still pending.
	ErrConnClosed = errors.New("mcclient: connection closed")
	// ErrTimeout: the oldest operation on the connection passed its deadline
	// (Config.OpTimeout); every operation pending on that connection fails with it.
	ErrTimeout = errors.New("mcclient: operation timed out")
	// ErrConnect: dialing the server failed or took longer than Config.ConnectTimeout.
	ErrConnect = errors.New("mcclient: connect failed")
	// ErrServerDown: the key's server lost its connection and the reconnect
	// backoff has not elapsed; the operation was not sent.
	ErrServerDown = errors.New("mcclient: server connection down")
	// ErrNoServer: every server is ejected; the operation was not sent.
	ErrNoServer = errors.New("mcclient: no live server")
	// ErrQueueFull: Config.MaxPending operations are already outstanding on the
	// connection; the operation was not sent.
	ErrQueueFull = errors.New("mcclient: too many pending operations")
	// ErrClientError: memcached answered CLIENT_ERROR (e.g. incrementing a
	// non-numeric value); the connection stays usable.
	ErrClientError = errors.New("mcclient: memcached CLIENT_ERROR")
	// ErrServerError: memcached answered SERVER_ERROR (e.g. out of memory);
	// the connection stays usable.
	ErrServerError = errors.New("mcclient: memcached SERVER_ERROR")
	// ErrClosed: the client was closed; pending operations fail with it and new
	// ones are refused.
	ErrClosed = errors.New("mcclient: client closed")
)
