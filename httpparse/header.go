package httpparse

// Header is one request header field as received. Name and Value are views into
// the buffer that was parsed (Value without surrounding optional whitespace); they
// stay valid only as long as that buffer's bytes are unchanged.
type Header struct {
	Name  []byte
	Value []byte
}
