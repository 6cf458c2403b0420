package server

import "time"

// SetAccessLogSizes sets the access log's buffer size, queue length and
// flush interval in c (0 keeps a default), so that tests can make the
// writer fall behind with a few requests.
func SetAccessLogSizes(c *Config, buf, queue int, every time.Duration) {
	c.accessLogBuf, c.accessLogQueue, c.accessLogEvery = buf, queue, every
}
