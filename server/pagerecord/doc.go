// Package pagerecord defines the stored page: the byte layout mcpage writes
// into its page store (the embedded cache or memcached) and that applications
// may write themselves (a PHP or Python app pre-rendering pages into
// memcached), plus the compression helpers for stored bodies.
//
// # Layout, version 1
//
// A record is a fixed 36-byte head, the header block and the body, with
// nothing before or after. Integers are big-endian and unsigned unless noted.
//
//	offset  size  field          meaning
//	------  ----  -------------  ----------------------------------------------
//	     0     4  magic          the ASCII bytes "MCPG"
//	     4     1  version        1
//	     5     1  flags          bit 0: freshness came from the proxy's -ttl
//	                             (hits add Cache-Control: max-age and Expires);
//	                             bit 1: a variant index, not a page (below);
//	                             bits 2-7 reserved: writers set 0, readers ignore
//	     6     2  status         HTTP status code, 100..999
//	     8     1  encoding       content coding of the body as stored (below)
//	     9     1  orig-encoding  content coding the origin sent (below)
//	    10     2  selector-len   S, length of the variant section (0 for a page
//	                             that varies on nothing but Accept-Encoding)
//	    12     8  stored-at      signed: unix seconds when the record was stored
//	    20     4  ttl            seconds of freshness remaining at stored-at
//	    24     4  age            the response's age at stored-at, seconds
//	    28     4  header-length  H, length of the header block in bytes
//	    32     4  body-length    B, length of the body in bytes
//	    36     H  header block   zero or more "Name: value\r\n" lines
//	  36+H     S  selector       the variant section (below)
//	36+H+S     B  body           the body bytes, in the coding named at offset 8
//
// The record is exactly 36+H+S+B bytes long. Codings: 0 identity, 1 gzip,
// 2 deflate, 3 br (brotli), 4 zstd; other values are rejected.
//
// The header block holds the response's end-to-end fields as received, one
// "Name: value\r\n" line each (the space after the colon is optional). A name is
// an RFC 9110 token; a value is any bytes but CR, LF, NUL and the other
// control characters except HTAB. The block must not contain fields the proxy
// computes or that frame the message, because hits write the block verbatim:
// Content-Length, Content-Encoding, Transfer-Encoding, Age, Set-Cookie,
// Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade,
// Proxy-Authenticate, Proxy-Authentication-Info, Proxy-Authorization (see
// [StorableField]). [Decode] rejects a record that breaks any of these rules,
// so a corrupt or hostile record can cost a miss but never a split response.
//
// The record is fresh while ttl − (now − stored-at) > 0; the Age a hit sends is
// age + (now − stored-at). A stored-at in the future (clocks of two writers
// disagreeing) counts as "stored now".
//
// # Variants
//
// A response whose Vary names request fields other than Accept-Encoding is
// stored as a variant: its selector section holds the request values it was
// chosen by, and the URL's key holds a variant index (flag bit 1) whose
// selector lists the variants. The server defines both sections
// (server/vary.go); they are opaque here. Until version 1 gained them, offset
// 10 was reserved and zero, so an older reader rejects such records (and
// drops them) rather than serving an index as a page. An application writing
// plain pages leaves S at 0.
//
// A writer in another language needs nothing else; in Python:
//
//	head = struct.pack(">4sBBHBBHqIIII", b"MCPG", 1, 0, 200, 0, 0, 0,
//	                   int(time.time()), 300, 0, len(hdr), len(body))
//	mc.set(key, head + hdr + body, expire=300)
package pagerecord
