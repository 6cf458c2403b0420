package upstream

import (
	"bufio"
	"net"
	"testing"
)

// fastUpstream answers every bodiless request with a fixed 1 KiB response,
// allocating nothing per request, so that benchmarks measure the pool.
func fastUpstream(b *testing.B) (*rawServer, int) { return fastUpstreamT(b) }

func fastUpstreamT(b testing.TB) (*rawServer, int) {
	body := make([]byte, 1024)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	resp := []byte(httpResponse("200 OK", "Content-Type: text/plain\r\nCache-Control: max-age=60\r\n", body))
	up := startRaw(b, func(s *rawServer, c net.Conn, br *bufio.Reader) {
		for {
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if len(line) <= 2 {
					break
				}
			}
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	})
	return up, len(body)
}

// benchDone signals the channel in Ctx without allocating.
func benchDone(j *Job) { j.Ctx.(chan struct{}) <- struct{}{} }

var benchHeaders = hdrs("Host: bench.test", "User-Agent: Mozilla/5.0 (X11; Linux x86_64)",
	"Accept: text/html,*/*;q=0.8", "Accept-Encoding: gzip, br", "Cookie: session=0123456789abcdef")

var benchForward = &Forward{ClientIP: []byte("127.0.0.1"), Proto: "http", Via: "1.1 mcpage"}

// BenchmarkRoundTrip measures one request at a time through BuildRequest,
// Submit, a worker's exchange over a kept-alive loopback connection, and Done.
func BenchmarkRoundTrip(b *testing.B) {
	up, size := fastUpstream(b)
	p := newPool(b, Config{Addrs: []string{up.addr()}, Workers: 4})
	ch := make(chan struct{}, 1)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		benchExchange(b, p, ch)
	}
}

// BenchmarkRoundTripParallel is BenchmarkRoundTrip with GOMAXPROCS callers
// submitting at once.
func BenchmarkRoundTripParallel(b *testing.B) {
	up, size := fastUpstream(b)
	p := newPool(b, Config{Addrs: []string{up.addr()}, Workers: 16})
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ch := make(chan struct{}, 1)
		for pb.Next() {
			benchExchange(b, p, ch)
		}
	})
}

// benchExchange runs one exchange through BuildRequest, Submit, a worker and
// Done, which signals ch.
func benchExchange(b *testing.B, p *Pool, ch chan struct{}) {
	j := AcquireJob()
	BuildRequest(&j.req, []byte("GET"), []byte("/bench"), []byte("bench.test"), benchHeaders, nil, benchForward)
	j.Ctx, j.Done = ch, benchDone
	if err := p.Submit(j); err != nil {
		b.Fatal(err)
	}
	<-ch
	if j.Err != nil {
		b.Fatal(j.Err, j.Cause)
	}
	ReleaseJob(j)
}

// TestRoundTripAllocs pins the steady-state cost of a whole exchange (build,
// submit, write, read, Done, release) at zero allocations: pooled jobs,
// connections, buffers and a probe bound once per connection.
func TestRoundTripAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops objects at random under the race detector")
	}
	up, _ := fastUpstreamT(t)
	p := newPool(t, Config{Addrs: []string{up.addr()}, Workers: 1})
	ch := make(chan struct{}, 1)
	run := func() {
		j := AcquireJob()
		BuildRequest(&j.req, []byte("GET"), []byte("/a"), []byte("bench.test"), benchHeaders, nil, benchForward)
		j.Ctx, j.Done = ch, benchDone
		if err := p.Submit(j); err != nil {
			t.Fatal(err)
		}
		<-ch
		if j.Err != nil {
			t.Fatal(j.Err, j.Cause)
		}
		ReleaseJob(j)
	}
	for range 10 {
		run() // warm the pools
	}
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Fatalf("a round trip allocates %v times", n)
	}
}
