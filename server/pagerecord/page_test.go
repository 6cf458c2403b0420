package pagerecord

import (
	"fmt"
	"math/rand/v2"
)

// words is the vocabulary of testHTML's prose.
var words = []string{
	"the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be", "by",
	"on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had",
	"they", "you", "were", "their", "one", "all", "we", "can", "her", "has", "there", "been", "if",
	"more", "when", "will", "would", "who", "so", "no", "cache", "memcached", "proxy", "request",
	"response", "header", "origin", "latency", "throughput", "connection", "upstream", "server",
	"client", "page", "content", "encoding", "compression", "freshness", "validation", "stale",
	"revalidate", "expires", "benchmark", "kernel", "socket", "buffer", "network", "package",
	"function", "interface", "goroutine", "allocation", "performance", "configuration", "deploy",
}

// testHTML returns a deterministic HTML page of about n bytes: markup, links
// and prose with the redundancy of a real page (gzip shrinks it about 3-4x).
func testHTML(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	b := []byte("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mcpage test page</title>\n" +
		"<link rel=\"stylesheet\" href=\"/static/site.css?v=3\"><script src=\"/static/app.js\" defer></script></head>\n" +
		"<body><nav class=\"top\"><ul>")
	for i := 0; i < 8; i++ {
		b = fmt.Appendf(b, "<li><a href=\"/section/%d\">Section %d</a></li>", i, i)
	}
	b = append(b, "</ul></nav>\n<main>"...)
	for art := 0; len(b) < n-200; art++ {
		b = fmt.Appendf(b, "<article id=\"post-%d\" class=\"post\"><h2><a href=\"/posts/%d\">", 1000+art, 1000+art)
		for i := 0; i < 3+rng.IntN(4); i++ {
			b = append(b, words[rng.IntN(len(words))]...)
			b = append(b, ' ')
		}
		b = append(b, "</a></h2>\n<p>"...)
		for i := 0; i < 40+rng.IntN(40) && len(b) < n-100; i++ {
			// Zipf-like: frequent words much more often than rare ones.
			w := words[int(float64(len(words))*rng.Float64()*rng.Float64())]
			b = append(b, w...)
			b = append(b, ' ')
		}
		b = append(b, "</p></article>\n"...)
	}
	b = append(b, "</main><footer>&copy; mcpage</footer></body></html>\n"...)
	return b
}

// randomBytes returns n pseudo-random bytes (all 256 values, NUL and high
// bytes included), deterministic per seed.
func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	if n > 0 {
		b[0] = 0
		b[n-1] = 0xff
	}
	return b
}
