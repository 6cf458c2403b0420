package pagerecord

import "errors"

// Errors returned by Decode. They are never wrapped, so == comparison works.
var (
	// ErrShort is returned when the record is shorter than its fixed head or
	// than the header and body lengths it declares (a truncated record, or
	// lengths that lie upward).
	ErrShort = errors.New("pagerecord: record truncated")
	// ErrMagic is returned when the record does not start with "MCPG".
	ErrMagic = errors.New("pagerecord: bad magic")
	// ErrVersion is returned when the version byte is not one this package reads.
	ErrVersion = errors.New("pagerecord: unknown version")
	// ErrLength is returned when bytes follow the body: the declared lengths do
	// not add up to the record's size.
	ErrLength = errors.New("pagerecord: lengths inconsistent with record size")
	// ErrStatus is returned when the status is outside 100..999.
	ErrStatus = errors.New("pagerecord: status out of range")
	// ErrEncoding is returned when the encoding or orig-encoding byte names no
	// known content coding.
	ErrEncoding = errors.New("pagerecord: unknown content coding")
	// ErrSelector is returned when a record flagged as a variant index has
	// no selector section.
	ErrSelector = errors.New("pagerecord: variant index without a selector")
	// ErrHeader is returned when a header block line is not
	// "token: value\r\n" with a value free of CR, LF and control bytes.
	ErrHeader = errors.New("pagerecord: malformed header block")
	// ErrForbiddenField is returned when the header block holds a field that a
	// record must not carry (see StorableField), such as Content-Length.
	ErrForbiddenField = errors.New("pagerecord: header block holds a forbidden field")
)

// Errors returned by AppendDecoded.
var (
	// ErrTooLarge is returned when the decoded body would exceed maxOut bytes.
	ErrTooLarge = errors.New("pagerecord: decoded body too large")
	// ErrCorrupt is returned (wrapped, with the decoder's detail) when the
	// compressed body is not a valid stream of its coding, is truncated, or has
	// bytes after the end of the stream.
	ErrCorrupt = errors.New("pagerecord: corrupt compressed body")
	// ErrUnknownEncoding is returned when the coding passed is not one of the
	// Encoding constants.
	ErrUnknownEncoding = errors.New("pagerecord: unknown encoding")
)
