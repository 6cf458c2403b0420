package pagestore

import "errors"

// Errors of the embedded store.
var (
	// ErrClosed is passed to PageLookup by Get after Close.
	ErrClosed = errors.New("pagestore: store closed")
	// ErrBadConfig is returned by NewEmbedded when EmbeddedConfig.MaxBytes is
	// negative.
	ErrBadConfig = errors.New("pagestore: negative MaxBytes")
)
