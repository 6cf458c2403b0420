// Package httpparse is mcpage's incremental, zero-allocation HTTP/1.1 request
// parser. The front end runs it on a connection's inbound buffer: ParseHead
// parses a request head and ChunkedDecoder decodes a chunked body. Parsed
// fields are views into that buffer; nothing is copied and nothing on the
// request path allocates.
//
// Every entry point takes the bytes received so far and tells three outcomes
// apart: complete (with the bytes consumed), incomplete (ErrNeedMore for a
// head; n < len(src) with no error for a body), and rejected (an *Error
// carrying the status to answer with, see AppendErrorResponse). Feeding a
// longer prefix of the same bytes never turns a rejection into something
// else, and a head is never accepted before its blank line.
//
// # Accepted grammar (RFC 9112, strict subset)
//
//	head          = *CRLF request-line *( field-line CRLF ) CRLF
//	request-line  = method SP request-target SP HTTP-version CRLF
//	method        = token                       ; 1..MaxMethodLen bytes, any token
//	HTTP-version  = "HTTP/1.0" / "HTTP/1.1"     ; other "HTTP/" DIGIT "." DIGIT: 505
//	request-target = origin-form                ; "/" followed by %x21-7E
//	              / absolute-form               ; ("http" / "https") "://" authority [ "/" ... ]
//	              / "*"                         ; with OPTIONS only
//	field-line    = token ":" OWS *( %x21-7E / obs-text / SP / HTAB ) OWS
//	authority, Host = uri-host [ ":" *DIGIT ]   ; Host may also be empty
//	uri-host      = "[" IPv6address "]" / 1*( unreserved / sub-delims )
//
// Lines end in CRLF only. A '%' in a target's path (before '?') must start
// a %HH escape; the query is not checked. Scheme and field names compare
// without regard to case; methods and the version are case-sensitive.
//
// # Limits (see Limits; zero means the default)
//
//	MaxHeaderBytes  16384   head, leading CRLFs included; separately a trailer section   431
//	MaxHeaders      100     header fields (clamped to MaxHeadersCap); separately trailers 431
//	MaxBodyBytes    10 MiB  Content-Length, or decoded chunked body                        413
//	MaxMethodLen    32      method                                                         400
//	MaxChunkLine    4096    chunk-size line with extensions and CRLF                       400
//
// A head over MaxHeaderBytes is refused as soon as that many bytes are
// buffered without a complete head, not when it finally ends.
//
// # Rejections
//
//	ErrRequestLine    400  not method SP target SP version; method not a token or too long; bad version syntax ("HTTX/1.1", "HTTP/1.10")
//	ErrTarget         400  target byte outside %x21-7E (SP, CTL, DEL, and also bytes > 0x7E); bad %-escape in the path;
//	                       relative or authority-form target (CONNECT host:port); absolute-form with another scheme,
//	                       an empty or invalid authority, userinfo, or '?' straight after the authority; "*" without OPTIONS
//	ErrVersion        505  HTTP/0.9, HTTP/1.2, HTTP/2.0 and every other version but 1.0 and 1.1
//	ErrLineEnding     400  bare LF as a line end; CR not followed by LF anywhere in a line
//	ErrHeaderSyntax   400  empty or non-token field name; whitespace before the colon; no colon;
//	                       obs-fold (line starting with SP/HTAB); NUL or other CTL but HTAB in a value
//	ErrHeaderTooLarge 431  head, or trailer section, over MaxHeaderBytes
//	ErrTooManyHeaders 431  more than MaxHeaders fields, or trailer fields
//	ErrHost           400  HTTP/1.1 without Host; two or more Host fields; Host not uri-host [":" port]
//	ErrContentLength  400  value not 1*DIGIT; overflows int64; differs from an earlier Content-Length
//	                       (also inside a list: "5, 6")
//	ErrSmuggling      400  Transfer-Encoding and Content-Length together, in either order;
//	                       Transfer-Encoding in an HTTP/1.0 request (as nginx)
//	ErrTransferCoding 501  Transfer-Encoding other than one field with the value "chunked" ("gzip, chunked",
//	                       "chunked, chunked", two fields)
//	ErrExpectation    417  Expect with a value other than 100-continue
//	ErrBodyTooLarge   413  Content-Length, or the decoded chunked body, over MaxBodyBytes
//	ErrChunk          400  bad chunk-size or chunk-ext syntax; size line over MaxChunkLine; data not
//	                       followed by CRLF; framing overhead beyond 16 bytes per chunk plus twice the
//	                       data plus 16 KiB (1-byte chunks with long extensions)
//
// Errors are reported in the order the offending lines arrive, so the first
// bad line decides. Only what needs the whole head is checked at the blank
// line: a missing Host, and Content-Length against MaxBodyBytes.
//
// # Deliberate choices
//
//   - Bare LF is refused although RFC 9112 §2.2 lets a recipient accept it:
//     a hop that accepts it and one that does not disagree on where a
//     message ends. The same goes for obs-fold and whitespace before the
//     colon (RFC 9112 §5.1, §5.2 allow either refusal or repair).
//   - Content-Length repeated with byte-identical values, as separate fields
//     or as a list ("5, 5"), is accepted as that one value (RFC 9110 §8.6);
//     "5" and "05" differ. The forwarder writes its own Content-Length.
//   - Targets with bytes above 0x7E are refused: RFC 3986 wants them
//     %-encoded, and raw ones would give one resource several cache keys.
//     Field values may hold obs-text (bytes above 0x7F) as RFC 9110 allows.
//   - Hosts with %-encoding, IPvFuture or an IPv6 zone, and a port-only Host
//     (":80"), are refused; an empty Host is accepted.
//   - "Expect: 100-continue" in HTTP/1.0 is ignored (RFC 9110 §10.1.1); an
//     empty Expect expects nothing.
//   - The first field of a name feeds the Request shortcuts (Cookie,
//     AcceptEncoding, ...); KeepAlive reads every Connection field.
//   - Chunk-size lines may end in SP/HTAB padding before CRLF, as net/http
//     and nginx accept; extensions must otherwise follow the RFC 9112 §7.1.1
//     grammar. Trailer fields are checked like header fields and dropped.
//
// # Concurrency
//
// ParseHead and AppendErrorResponse are pure functions of their arguments and
// may run on any goroutine; a Request or ChunkedDecoder belongs to one
// goroutine at a time (the connection's event loop). Sentinel errors and a
// Limits in use are read-only.
package httpparse
